/*
 * The Payment Element's card fields, inside an iframe from the Stripe sandbox's origin.
 *
 * The merchant page (through v3.js) talks to this frame with postMessage only: it asks it to
 * validate and to tokenize, and hears back change/focus/blur/ready and the frame's height. The
 * card number never leaves this frame except to the sandbox's own /v1/payment_methods.
 */
(function () {
  "use strict";

  var config = JSON.parse(decodeURIComponent(window.location.hash.slice(1)) || "{}");
  var parentOrigin = config.parentOrigin;
  var form = document.getElementById("payment-form");
  var fields = {
    number: document.getElementById("number"),
    expiry: document.getElementById("expiry"),
    cvc: document.getElementById("cvc")
  };
  var errors = {
    number: document.getElementById("number-error"),
    expiry: document.getElementById("expiry-error"),
    cvc: document.getElementById("cvc-error")
  };
  var touched = { number: false, expiry: false, cvc: false };
  var focused = false;
  var busy = false;

  function post(message) {
    message.channel = config.channel;
    message.height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    window.parent.postMessage(message, parentOrigin);
  }

  function digits(value) {
    return value.replace(/\D/g, "");
  }

  // --- card rules, as Stripe.js applies them before any request ----------------------------

  function brandOf(number) {
    if (/^3[47]/.test(number)) {
      return "amex";
    }
    if (/^3(0[0-5]|[689])/.test(number)) {
      return "diners";
    }
    if (/^(5[1-5]|2[2-7])/.test(number)) {
      return "mastercard";
    }
    if (/^(6011|65|64[4-9])/.test(number)) {
      return "discover";
    }
    if (/^35/.test(number)) {
      return "jcb";
    }
    if (/^62/.test(number)) {
      return "unionpay";
    }
    if (/^4/.test(number)) {
      return "visa";
    }
    return "unknown";
  }

  function lengthsOf(brand) {
    switch (brand) {
      case "amex":
        return [15];
      case "diners":
        return [14, 16];
      case "unionpay":
        return [16, 17, 18, 19];
      case "visa":
        return [13, 16, 19];
      default:
        return [16];
    }
  }

  function luhn(number) {
    var sum = 0;
    for (var i = 0; i < number.length; i += 1) {
      var digit = Number(number.charAt(number.length - 1 - i));
      if (i % 2 === 1) {
        digit *= 2;
        if (digit > 9) {
          digit -= 9;
        }
      }
      sum += digit;
    }
    return sum % 10 === 0;
  }

  function formatNumber(number) {
    var groups = brandOf(number) === "amex" ? [4, 6, 5] : [4, 4, 4, 4, 3];
    var parts = [];
    var position = 0;
    groups.forEach(function (size) {
      if (position < number.length) {
        parts.push(number.slice(position, position + size));
        position += size;
      }
    });
    return parts.join(" ");
  }

  function checkNumber() {
    var number = digits(fields.number.value);
    var lengths = lengthsOf(brandOf(number));
    var longest = lengths[lengths.length - 1];
    if (number === "") {
      return { empty: true, complete: false, code: "incomplete_number", message: "Your card number is incomplete." };
    }
    if (lengths.indexOf(number.length) >= 0 && luhn(number)) {
      return { empty: false, complete: true };
    }
    if (number.length < longest && !(lengths.indexOf(number.length) >= 0)) {
      return { empty: false, complete: false, code: "incomplete_number", message: "Your card number is incomplete.", partial: true };
    }
    return { empty: false, complete: false, code: "invalid_number", message: "Your card number is invalid." };
  }

  function checkExpiry() {
    var value = digits(fields.expiry.value);
    if (value === "") {
      return { empty: true, complete: false, code: "incomplete_expiry", message: "Your card's expiration date is incomplete." };
    }
    if (value.length < 4) {
      return { empty: false, complete: false, code: "incomplete_expiry", message: "Your card's expiration date is incomplete.", partial: true };
    }
    var month = Number(value.slice(0, 2));
    var year = 2000 + Number(value.slice(2, 4));
    var now = new Date();
    if (month < 1 || month > 12) {
      return { empty: false, complete: false, code: "invalid_expiry_month", message: "Your card's expiration month is invalid." };
    }
    if (year < now.getFullYear()) {
      return { empty: false, complete: false, code: "invalid_expiry_year_past", message: "Your card's expiration year is in the past." };
    }
    if (year === now.getFullYear() && month < now.getMonth() + 1) {
      return { empty: false, complete: false, code: "invalid_expiry_month_past", message: "Your card's expiration date is in the past." };
    }
    if (year > now.getFullYear() + 50) {
      return { empty: false, complete: false, code: "invalid_expiry_year", message: "Your card's expiration year is invalid." };
    }
    return { empty: false, complete: true, month: month, year: year };
  }

  function checkCvc() {
    var value = digits(fields.cvc.value);
    var wanted = brandOf(digits(fields.number.value)) === "amex" ? 4 : 3;
    if (value === "") {
      return { empty: true, complete: false, code: "incomplete_cvc", message: "Your card's security code is incomplete." };
    }
    if (value.length < wanted) {
      return { empty: false, complete: false, code: "incomplete_cvc", message: "Your card's security code is incomplete.", partial: true };
    }
    return { empty: false, complete: true };
  }

  var checks = { number: checkNumber, expiry: checkExpiry, cvc: checkCvc };
  var order = ["number", "expiry", "cvc"];

  function show(name, state, force) {
    // A half-typed field is not an error until the customer leaves it or submits.
    var visible = !state.complete && (force || (touched[name] && !state.empty) || (!state.partial && !state.empty));
    errors[name].textContent = visible ? state.message : "";
    if (visible) {
      fields[name].setAttribute("aria-invalid", "true");
    } else {
      fields[name].removeAttribute("aria-invalid");
    }
  }

  function states() {
    var result = {};
    order.forEach(function (name) {
      result[name] = checks[name]();
    });
    return result;
  }

  function reportChange() {
    var current = states();
    post({
      type: "change",
      empty: order.every(function (name) {
        return current[name].empty;
      }),
      complete: order.every(function (name) {
        return current[name].complete;
      })
    });
  }

  // --- typing --------------------------------------------------------------------------------

  function reformat(input, format) {
    var caret = input.selectionStart === null ? input.value.length : input.selectionStart;
    var digitsBefore = digits(input.value.slice(0, caret)).length;
    var formatted = format(digits(input.value));
    input.value = formatted;
    var position = 0;
    var seen = 0;
    while (position < formatted.length && seen < digitsBefore) {
      if (/\d/.test(formatted.charAt(position))) {
        seen += 1;
      }
      position += 1;
    }
    if (document.activeElement === input) {
      input.setSelectionRange(position, position);
    }
  }

  var formats = {
    number: function (value) {
      return formatNumber(value.slice(0, 19));
    },
    expiry: function (value) {
      var raw = value.slice(0, 4);
      if (raw.length === 1 && Number(raw) > 1) {
        raw = "0" + raw;
      }
      return raw.length > 2 ? raw.slice(0, 2) + " / " + raw.slice(2) : raw;
    },
    cvc: function (value) {
      return value.slice(0, 4);
    }
  };

  order.forEach(function (name) {
    var input = fields[name];
    input.addEventListener("input", function () {
      reformat(input, formats[name]);
      show(name, checks[name](), false);
      if (name === "number") {
        show("cvc", checkCvc(), false);
      }
      reportChange();
    });
    input.addEventListener("blur", function () {
      touched[name] = true;
      show(name, checks[name](), false);
    });
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
  });

  document.addEventListener("focusin", function () {
    if (!focused) {
      focused = true;
      post({ type: "focus" });
    }
  });
  document.addEventListener("focusout", function () {
    // Moving between our own fields is not a blur of the element.
    window.setTimeout(function () {
      var inside = order.some(function (name) {
        return document.activeElement === fields[name];
      });
      if (focused && !inside) {
        focused = false;
        post({ type: "blur" });
      }
    }, 0);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      post({ type: "escape" });
    }
  });

  // --- requests from the page ------------------------------------------------------------------

  function validate() {
    var current = states();
    var firstBad = null;
    order.forEach(function (name) {
      touched[name] = true;
      show(name, current[name], true);
      if (!current[name].complete && firstBad === null) {
        firstBad = name;
      }
    });
    if (firstBad === null) {
      return { ok: true };
    }
    fields[firstBad].focus();
    return {
      error: { type: "validation_error", code: current[firstBad].code, message: current[firstBad].message }
    };
  }

  function encodeForm(data) {
    var pairs = [];
    function add(prefix, value) {
      if (value === undefined || value === null || value === "") {
        return;
      }
      if (typeof value === "object") {
        Object.keys(value).forEach(function (key) {
          add(prefix ? prefix + "[" + key + "]" : key, value[key]);
        });
      } else {
        pairs.push(encodeURIComponent(prefix) + "=" + encodeURIComponent(String(value)));
      }
    }
    add("", data);
    return pairs.join("&");
  }

  function tokenize(methodData) {
    var expiry = checkExpiry();
    var body = {
      type: "card",
      card: {
        number: digits(fields.number.value),
        exp_month: String(expiry.month),
        exp_year: String(expiry.year),
        cvc: digits(fields.cvc.value)
      },
      billing_details: methodData.billing_details,
      metadata: methodData.metadata,
      allow_redisplay: methodData.allow_redisplay,
      key: config.key,
      payment_user_agent: "stripe.js/sandbox; stripe-js-v3/sandbox; payment-element",
      referrer: parentOrigin
    };
    return fetch("/v1/payment_methods", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: encodeForm(body),
      credentials: "omit"
    })
      .then(function (response) {
        return response.json();
      })
      .then(
        function (json) {
          if (json.error) {
            var field = /cvc/.test(json.error.param || "") ? "cvc" : /exp_/.test(json.error.param || "") ? "expiry" : "number";
            errors[field].textContent = json.error.message || "";
            fields[field].setAttribute("aria-invalid", "true");
            return { error: json.error };
          }
          return { paymentMethod: json };
        },
        function () {
          return {
            error: {
              type: "api_connection_error",
              message: "An error occurred with our connection to Stripe: the Stripe sandbox could not be reached."
            }
          };
        }
      );
  }

  function setBusy(value) {
    busy = value;
    order.forEach(function (name) {
      fields[name].readOnly = busy || !!config.readOnly;
    });
  }

  function applyConfig(next) {
    config = Object.assign({}, config, next);
    var root = document.documentElement;
    var appearance = config.appearance || {};
    root.classList.toggle("theme-night", appearance.theme === "night");
    root.classList.toggle("theme-flat", appearance.theme === "flat");
    var variables = appearance.variables || {};
    var names = {
      colorPrimary: "--sb-color-primary",
      colorBackground: "--sb-color-background",
      colorText: "--sb-color-text",
      colorDanger: "--sb-color-danger",
      fontFamily: "--sb-font-family",
      fontSizeBase: "--sb-font-size",
      borderRadius: "--sb-radius",
      spacingUnit: "--sb-spacing"
    };
    Object.keys(names).forEach(function (key) {
      if (variables[key] !== undefined) {
        // CSSOM, which a CSP without 'unsafe-inline' allows.
        root.style.setProperty(names[key], String(variables[key]));
      }
    });
    if (config.locale && config.locale !== "auto") {
      root.lang = config.locale;
    }
    setBusy(busy);
  }

  function respond(id, result) {
    post({ type: "response", id: id, result: result });
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== window.parent || event.origin !== parentOrigin) {
      return;
    }
    if (!data || data.channel !== config.channel) {
      return;
    }
    switch (data.type) {
      case "validate":
        respond(data.id, validate());
        break;
      case "tokenize": {
        var checked = validate();
        if (checked.error) {
          respond(data.id, checked);
          break;
        }
        setBusy(true);
        tokenize(data.payload || {}).then(function (result) {
          setBusy(false);
          respond(data.id, result);
        });
        break;
      }
      case "busy":
        setBusy(!!(data.payload && data.payload.busy));
        break;
      case "focus":
        fields.number.focus();
        break;
      case "blur":
        if (document.activeElement && document.activeElement.blur) {
          document.activeElement.blur();
        }
        break;
      case "clear":
        order.forEach(function (name) {
          fields[name].value = "";
          touched[name] = false;
          show(name, checks[name](), false);
        });
        reportChange();
        break;
      case "update":
        applyConfig(data.payload || {});
        post({ type: "resize" });
        break;
      default:
        break;
    }
  });

  applyConfig({});
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(function () {
      post({ type: "resize" });
    }).observe(document.documentElement);
  }
  post({ type: "ready" });
})();
