/*
 * Stripe.js stand-in, served by the Stripe sandbox at /v3/.
 *
 * Implements the part of Stripe.js a Payment Element integration calls, with the signatures
 * of the @stripe/stripe-js declarations: Stripe(), stripe.elements(), elements.create('payment'),
 * element.mount()/unmount()/on(), elements.submit(), stripe.confirmPayment(),
 * stripe.handleNextAction() and stripe.retrievePaymentIntent().
 *
 * As in Stripe.js, the card fields live in an iframe served from the sandbox's origin, so the
 * merchant's page never sees the card number; the frame tokenizes the card
 * (POST /v1/payment_methods with the publishable key) and hands back only the PaymentMethod.
 * The 3-D Secure challenge opens in a modal iframe from the same origin.
 *
 * It runs under a page CSP without 'unsafe-inline' or 'unsafe-eval': no injected <style>, no
 * style attributes in markup (only CSSOM), no eval, no inline handlers.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var ORIGIN =
    script && script.src ? new URL(script.src, window.location.href).origin : window.location.origin;
  var PAYMENT_USER_AGENT = "stripe.js/sandbox; stripe-js-v3/sandbox; payment-element";
  var CLIENT_SECRET = /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/;
  var counter = 0;

  function integrationError(message) {
    var error = new Error(message);
    error.name = "IntegrationError";
    return error;
  }

  function newChannel(kind) {
    counter += 1;
    return kind + counter + "_" + Math.random().toString(36).slice(2, 10);
  }

  function paymentIntentIdOf(clientSecret) {
    var match = typeof clientSecret === "string" ? CLIENT_SECRET.exec(clientSecret) : null;
    return match ? match[1] : null;
  }

  function requirePaymentIntentId(method, clientSecret) {
    var id = paymentIntentIdOf(clientSecret);
    if (id === null) {
      throw integrationError(
        "Invalid value for " +
          method +
          ": clientSecret should be a client secret of the form ${id}_secret_${secret}. You " +
          "specified: " +
          String(clientSecret) +
          "."
      );
    }
    return id;
  }

  // Stripe's form encoding: metadata[k]=v, expand[0]=x.
  function encodeForm(data) {
    var pairs = [];
    function add(prefix, value) {
      if (value === undefined || value === null) {
        return;
      }
      if (Array.isArray(value)) {
        value.forEach(function (item, index) {
          add(prefix + "[" + index + "]", item);
        });
      } else if (typeof value === "object") {
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

  function connectionError() {
    return {
      error: {
        type: "api_connection_error",
        message: "An error occurred with our connection to Stripe: the Stripe sandbox could not be reached."
      }
    };
  }

  // --- the Stripe object -------------------------------------------------------------------

  function StripeInstance(key, options) {
    this._key = key;
    this._options = options;
  }

  StripeInstance.prototype._request = function (method, path, params) {
    var body = encodeForm(Object.assign({}, params, { key: this._key }));
    var url = ORIGIN + path;
    // A form body and no custom headers: a "simple" cross-origin request, no preflight.
    var init = { method: method, credentials: "omit", mode: "cors" };
    if (method === "GET") {
      url += "?" + body;
    } else {
      init.headers = { "Content-Type": "application/x-www-form-urlencoded" };
      init.body = body;
    }
    return fetch(url, init).then(
      function (response) {
        return response.json().catch(function () {
          return connectionError();
        });
      },
      function () {
        return connectionError();
      }
    );
  };

  StripeInstance.prototype._retrieve = function (clientSecret) {
    var id = requirePaymentIntentId("retrievePaymentIntent", clientSecret);
    return this._request("GET", "/v1/payment_intents/" + id, { client_secret: clientSecret }).then(
      function (body) {
        return body.error ? { error: body.error } : { paymentIntent: body };
      }
    );
  };

  StripeInstance.prototype.elements = function (options) {
    return new Elements(this, options || {});
  };

  StripeInstance.prototype.retrievePaymentIntent = function (clientSecret) {
    if (typeof clientSecret !== "string") {
      return Promise.reject(
        integrationError("Invalid value for retrievePaymentIntent: clientSecret should be a string.")
      );
    }
    try {
      return this._retrieve(clientSecret);
    } catch (error) {
      return Promise.reject(error);
    }
  };

  StripeInstance.prototype.confirmPayment = function (options) {
    var stripe = this;
    return Promise.resolve().then(function () {
      return confirmPayment(stripe, options);
    });
  };

  StripeInstance.prototype.handleNextAction = function (options) {
    var stripe = this;
    return Promise.resolve().then(function () {
      if (!options || typeof options.clientSecret !== "string") {
        throw integrationError("handleNextAction: the `clientSecret` option is required.");
      }
      var clientSecret = options.clientSecret;
      requirePaymentIntentId("handleNextAction", clientSecret);
      return stripe._retrieve(clientSecret).then(function (result) {
        if (result.error) {
          return result;
        }
        var intent = result.paymentIntent;
        if (intent.status !== "requires_action") {
          return {
            error: {
              type: "invalid_request_error",
              code: "payment_intent_unexpected_state",
              message:
                "handleNextAction: the PaymentIntent has a status of " +
                intent.status +
                "; only a PaymentIntent that requires an action can be handled.",
              payment_intent: intent
            }
          };
        }
        return handleAction(stripe, intent, clientSecret).then(outcome);
      });
    });
  };

  // Methods a Payment Element integration does not call; say so instead of "undefined".
  [
    "confirmCardPayment",
    "confirmSetup",
    "createPaymentMethod",
    "createToken",
    "handleCardAction",
    "initCheckout",
    "initEmbeddedCheckout",
    "paymentRequest",
    "redirectToCheckout",
    "retrieveSetupIntent"
  ].forEach(function (name) {
    StripeInstance.prototype[name] = function () {
      throw integrationError(
        "stripe." + name + "() is not part of the Stripe sandbox's Stripe.js, which implements " +
          "the Payment Element flow only."
      );
    };
  });

  function outcome(result) {
    if (result.error) {
      return result;
    }
    var intent = result.paymentIntent;
    if (
      intent.status === "succeeded" ||
      intent.status === "processing" ||
      intent.status === "requires_capture"
    ) {
      return { paymentIntent: intent };
    }
    if (intent.last_payment_error) {
      var error = Object.assign({}, intent.last_payment_error, { payment_intent: intent });
      return { error: error };
    }
    return {
      error: {
        type: "invalid_request_error",
        code: "payment_intent_unexpected_state",
        message: "The PaymentIntent has a status of " + intent.status + ".",
        payment_intent: intent
      }
    };
  }

  function redirectStatus(intent) {
    return intent.status === "processing" ? "processing" : "succeeded";
  }

  function returnUrlFor(returnUrl, intent, clientSecret) {
    var url = new URL(returnUrl, window.location.href);
    url.searchParams.set("payment_intent", intent.id);
    url.searchParams.set("payment_intent_client_secret", clientSecret);
    url.searchParams.set("redirect_status", redirectStatus(intent));
    return url.toString();
  }

  function confirmPayment(stripe, options) {
    if (!options || typeof options !== "object") {
      throw integrationError("stripe.confirmPayment(): expected an options object.");
    }
    var elements = options.elements;
    var confirmParams = options.confirmParams || {};
    var redirect = options.redirect === undefined ? "always" : options.redirect;
    if (redirect !== "always" && redirect !== "if_required") {
      throw integrationError(
        "Invalid value for confirmPayment(): redirect should be one of the following strings: " +
          "always, if_required. You specified: " +
          String(redirect) +
          "."
      );
    }
    if (elements !== undefined && !(elements instanceof Elements)) {
      throw integrationError(
        "Invalid value for confirmPayment(): elements should be an Elements group created by " +
          "stripe.elements()."
      );
    }
    var clientSecret = options.clientSecret || (elements && elements._options.clientSecret);
    if (!clientSecret) {
      throw integrationError(
        "stripe.confirmPayment(): the `clientSecret` argument is required when the Elements " +
          "group was created without one."
      );
    }
    var intentId = requirePaymentIntentId("confirmPayment", clientSecret);
    if (redirect === "always" && !confirmParams.return_url) {
      throw integrationError(
        "stripe.confirmPayment(): the `confirmParams.return_url` argument is required unless " +
          "passing `redirect: 'if_required'`"
      );
    }
    var element = elements ? elements._payment : null;
    var params = Object.assign({}, confirmParams);
    var methodData = params.payment_method_data;
    delete params.payment_method_data;

    var paymentMethod;
    if (params.payment_method) {
      paymentMethod = Promise.resolve({ id: params.payment_method });
    } else {
      if (!element || !element._frame) {
        throw integrationError(
          "stripe.confirmPayment(): mount the Payment Element before confirming, or pass " +
            "confirmParams.payment_method."
        );
      }
      paymentMethod = element._call("validate").then(function (validated) {
        if (validated.error) {
          return validated;
        }
        return element._call("tokenize", methodData || {});
      });
    }

    return paymentMethod.then(function (method) {
      if (method.error) {
        return { error: method.error };
      }
      params.payment_method = method.paymentMethod ? method.paymentMethod.id : method.id;
      params.client_secret = clientSecret;
      // Stripe.js asks for next actions it can handle in the page, such as a 3DS modal.
      params.use_stripe_sdk = "true";
      if (element) {
        element._setBusy(true);
      }
      return stripe
        ._request("POST", "/v1/payment_intents/" + intentId + "/confirm", params)
        .then(function (body) {
          if (body.error) {
            return { error: body.error };
          }
          if (body.status === "requires_action") {
            return handleAction(stripe, body, clientSecret).then(outcome);
          }
          return outcome({ paymentIntent: body });
        })
        .then(function (result) {
          if (element) {
            element._setBusy(false);
          }
          if (result.error || redirect === "if_required") {
            return result;
          }
          window.location.assign(returnUrlFor(confirmParams.return_url, result.paymentIntent, clientSecret));
          // Stripe.js's promise never settles once the page is navigating away.
          return new Promise(function () {});
        });
    });
  }

  function handleAction(stripe, intent, clientSecret) {
    var next = intent.next_action || {};
    var known = next.type === "redirect_to_url" || next.type === "use_stripe_sdk";
    if (!known) {
      return Promise.resolve({
        error: {
          type: "invalid_request_error",
          code: "payment_intent_unexpected_state",
          message:
            "The Stripe sandbox's Stripe.js cannot handle the next action " + String(next.type) + ".",
          payment_intent: intent
        }
      });
    }
    return openChallenge(stripe, intent.id, clientSecret).then(function () {
      return stripe._retrieve(clientSecret);
    });
  }

  // The bank's challenge in a modal iframe from the sandbox's origin. It resolves when the
  // frame says the customer answered, or when the PaymentIntent no longer waits for an answer
  // (a test may answer through the sandbox's control instead).
  function openChallenge(stripe, intentId, clientSecret) {
    return new Promise(function (resolve) {
      var channel = newChannel("threeDS");
      var previousFocus = document.activeElement;
      var previousOverflow = document.body.style.overflow;
      var overlay = document.createElement("div");
      overlay.setAttribute("role", "dialog");
      overlay.setAttribute("aria-modal", "true");
      overlay.setAttribute("aria-label", "3D Secure authentication");
      overlay.className = "__PrivateStripeThreeDSecure";
      var o = overlay.style;
      o.position = "fixed";
      o.top = "0";
      o.right = "0";
      o.bottom = "0";
      o.left = "0";
      o.zIndex = "2147483647";
      o.display = "flex";
      o.alignItems = "center";
      o.justifyContent = "center";
      o.padding = "16px";
      o.background = "rgba(26, 31, 54, 0.55)";

      var frame = document.createElement("iframe");
      frame.name = "__privateStripeFrame" + channel;
      frame.title = "3D Secure authentication";
      frame.setAttribute("allow", "payment *");
      var config = {
        channel: channel,
        parentOrigin: window.location.origin,
        key: stripe._key,
        paymentIntent: intentId,
        clientSecret: clientSecret
      };
      frame.src = ORIGIN + "/v3/three-d-secure.html#" + encodeURIComponent(JSON.stringify(config));
      var f = frame.style;
      f.width = "100%";
      f.maxWidth = "440px";
      f.height = "340px";
      f.maxHeight = "calc(100vh - 32px)";
      f.border = "0";
      f.borderRadius = "10px";
      f.background = "#ffffff";
      f.boxShadow = "0 12px 40px rgba(0, 0, 0, 0.3)";
      overlay.appendChild(frame);

      var done = false;
      var poll = null;
      function finish() {
        if (done) {
          return;
        }
        done = true;
        window.removeEventListener("message", onMessage);
        window.clearInterval(poll);
        overlay.remove();
        document.body.style.overflow = previousOverflow;
        if (previousFocus && typeof previousFocus.focus === "function") {
          previousFocus.focus();
        }
        resolve();
      }
      function onMessage(event) {
        var data = event.data;
        if (event.source !== frame.contentWindow || event.origin !== ORIGIN) {
          return;
        }
        if (!data || data.channel !== channel) {
          return;
        }
        if (typeof data.height === "number" && data.height > 0) {
          f.height = Math.ceil(data.height) + "px";
        }
        if (data.type === "three_d_secure_complete") {
          finish();
        }
      }
      window.addEventListener("message", onMessage);
      frame.addEventListener("load", function () {
        frame.focus();
      });
      poll = window.setInterval(function () {
        stripe._retrieve(clientSecret).then(function (result) {
          if (result.paymentIntent && result.paymentIntent.status !== "requires_action") {
            finish();
          }
        });
      }, 1500);
      document.body.style.overflow = "hidden";
      document.body.appendChild(overlay);
    });
  }

  // --- Elements ----------------------------------------------------------------------------

  function Elements(stripe, options) {
    if (options.clientSecret !== undefined) {
      requirePaymentIntentId("elements()", options.clientSecret);
    }
    this._stripe = stripe;
    this._options = Object.assign({}, options);
    this._payment = null;
    this._handlers = {};
  }

  Elements.prototype.create = function (type, options) {
    if (type !== "payment") {
      throw integrationError(
        "elements.create('" + String(type) + "'): the Stripe sandbox's Stripe.js implements the " +
          "Payment Element ('payment') only."
      );
    }
    if (this._payment) {
      throw integrationError("Can only create one Element of type payment.");
    }
    this._payment = new PaymentElement(this, options || {});
    return this._payment;
  };

  Elements.prototype.getElement = function (type) {
    return type === "payment" ? this._payment : null;
  };

  Elements.prototype.submit = function () {
    var element = this._payment;
    if (!element || !element._frame) {
      return Promise.reject(
        integrationError("elements.submit(): mount the Payment Element before submitting.")
      );
    }
    return element._call("validate").then(function (result) {
      return result.error ? { error: result.error } : { selectedPaymentMethod: "card" };
    });
  };

  Elements.prototype.update = function (options) {
    Object.assign(this._options, options || {});
    if (this._payment) {
      this._payment._sendConfig();
    }
    return Promise.resolve();
  };

  Elements.prototype.fetchUpdates = function () {
    return Promise.resolve({});
  };

  Elements.prototype.on = function (type, handler) {
    (this._handlers[type] = this._handlers[type] || []).push(handler);
  };

  // --- the Payment Element -------------------------------------------------------------------

  function PaymentElement(group, options) {
    this._group = group;
    this._options = Object.assign({}, options);
    this._handlers = {};
    this._frame = null;
    this._wrapper = null;
    this._channel = null;
    this._pending = {};
    this._sequence = 0;
    this._ready = null;
    this._markReady = null;
    this._destroyed = false;
    this._onMessage = this._receive.bind(this);
  }

  PaymentElement.prototype.on = function (type, handler, once) {
    (this._handlers[type] = this._handlers[type] || []).push({ handler: handler, once: !!once });
    return this;
  };

  PaymentElement.prototype.once = function (type, handler) {
    return this.on(type, handler, true);
  };

  PaymentElement.prototype.off = function (type, handler) {
    if (handler === undefined) {
      delete this._handlers[type];
    } else if (this._handlers[type]) {
      this._handlers[type] = this._handlers[type].filter(function (entry) {
        return entry.handler !== handler;
      });
    }
    return this;
  };

  PaymentElement.prototype._emit = function (type, event) {
    var entries = this._handlers[type] || [];
    this._handlers[type] = entries.filter(function (entry) {
      return !entry.once;
    });
    entries.forEach(function (entry) {
      entry.handler(event);
    });
  };

  PaymentElement.prototype._frameConfig = function () {
    var group = this._group;
    return {
      channel: this._channel,
      parentOrigin: window.location.origin,
      key: group._stripe._key,
      appearance: group._options.appearance || {},
      locale: group._options.locale || group._stripe._options.locale || "auto",
      defaultValues: this._options.defaultValues || {},
      readOnly: !!this._options.readOnly
    };
  };

  PaymentElement.prototype.mount = function (target) {
    if (this._destroyed) {
      throw integrationError("This Element has already been destroyed. Please create a new one.");
    }
    if (this._frame) {
      throw integrationError(
        "This Element is already mounted. Use `unmount()` to unmount the Element before re-mounting."
      );
    }
    var node = typeof target === "string" ? document.querySelector(target) : target;
    if (!node) {
      throw integrationError(
        "The selector you specified (" + String(target) + ") applies to no DOM elements that " +
          "are currently on the page.\nMake sure the element exists on the page before calling mount()."
      );
    }
    if (!(node instanceof HTMLElement)) {
      throw integrationError(
        "Invalid DOM element. Make sure to call mount() with a valid DOM element or selector."
      );
    }
    var element = this;
    this._channel = newChannel("payment");
    this._ready = new Promise(function (resolve) {
      element._markReady = resolve;
    });
    var wrapper = document.createElement("div");
    wrapper.className = "__PrivateStripeElement";
    wrapper.style.position = "relative";
    // The frame pads its fields by 3px so focus rings are not clipped; the negative margin
    // lines the fields up with the merchant's own inputs, as Stripe's frames do.
    wrapper.style.margin = "-3px";
    wrapper.style.padding = "0";
    var frame = document.createElement("iframe");
    frame.name = "__privateStripeFrame" + this._channel;
    frame.title = "Secure payment input frame";
    frame.setAttribute("frameborder", "0");
    frame.setAttribute("allowtransparency", "true");
    frame.setAttribute("scrolling", "no");
    frame.setAttribute("allow", "payment *");
    frame.src =
      ORIGIN + "/v3/elements-inner-payment.html#" + encodeURIComponent(JSON.stringify(this._frameConfig()));
    var style = frame.style;
    style.border = "0";
    style.margin = "0";
    style.padding = "0";
    style.width = "100%";
    style.minWidth = "100%";
    style.display = "block";
    style.overflow = "hidden";
    style.height = "1px";
    style.colorScheme = "normal";
    style.background = "transparent";
    wrapper.appendChild(frame);
    this._frame = frame;
    this._wrapper = wrapper;
    window.addEventListener("message", this._onMessage);
    node.appendChild(wrapper);
    this._emit("loaderstart", { elementType: "payment" });

    var clientSecret = this._group._options.clientSecret;
    if (clientSecret) {
      // Stripe.js loads the intent when the element mounts; a bad secret is a load error.
      this._group._stripe._retrieve(clientSecret).then(function (result) {
        if (result.error) {
          element._emit("loaderror", { elementType: "payment", error: result.error });
        }
      });
    }
  };

  PaymentElement.prototype._receive = function (event) {
    if (!this._frame || event.source !== this._frame.contentWindow || event.origin !== ORIGIN) {
      return;
    }
    var data = event.data;
    if (!data || data.channel !== this._channel) {
      return;
    }
    if (typeof data.height === "number" && data.height > 0) {
      this._frame.style.height = Math.ceil(data.height) + "px";
    }
    switch (data.type) {
      case "ready":
        this._markReady();
        this._emit("ready", { elementType: "payment" });
        break;
      case "change":
        this._emit("change", {
          elementType: "payment",
          empty: !!data.empty,
          complete: !!data.complete,
          collapsed: false,
          value: { type: "card" }
        });
        break;
      case "focus":
      case "blur":
      case "escape":
        this._emit(data.type, { elementType: "payment" });
        break;
      case "response":
        if (this._pending[data.id]) {
          this._pending[data.id](data.result);
          delete this._pending[data.id];
        }
        break;
      default:
        break;
    }
  };

  PaymentElement.prototype._send = function (type, payload) {
    if (this._frame && this._frame.contentWindow) {
      this._frame.contentWindow.postMessage(
        { channel: this._channel, type: type, payload: payload },
        ORIGIN
      );
    }
  };

  PaymentElement.prototype._call = function (type, payload) {
    var element = this;
    var frameAtCall = this._frame;
    return this._ready.then(function () {
      if (element._frame !== frameAtCall || !frameAtCall) {
        return { error: { type: "validation_error", message: "The Payment Element was unmounted." } };
      }
      return new Promise(function (resolve) {
        element._sequence += 1;
        var id = element._sequence;
        element._pending[id] = resolve;
        frameAtCall.contentWindow.postMessage(
          { channel: element._channel, type: type, id: id, payload: payload },
          ORIGIN
        );
      });
    });
  };

  PaymentElement.prototype._setBusy = function (busy) {
    this._send("busy", { busy: busy });
  };

  PaymentElement.prototype._sendConfig = function () {
    this._send("update", this._frameConfig());
  };

  PaymentElement.prototype.unmount = function () {
    if (!this._frame) {
      return;
    }
    window.removeEventListener("message", this._onMessage);
    var pending = this._pending;
    this._pending = {};
    Object.keys(pending).forEach(function (id) {
      pending[id]({ error: { type: "validation_error", message: "The Payment Element was unmounted." } });
    });
    this._wrapper.remove();
    this._frame = null;
    this._wrapper = null;
  };

  PaymentElement.prototype.destroy = function () {
    this.unmount();
    this._destroyed = true;
    if (this._group._payment === this) {
      this._group._payment = null;
    }
  };

  PaymentElement.prototype.focus = function () {
    this._send("focus");
  };

  PaymentElement.prototype.blur = function () {
    this._send("blur");
  };

  PaymentElement.prototype.clear = function () {
    this._send("clear");
  };

  PaymentElement.prototype.update = function (options) {
    Object.assign(this._options, options || {});
    this._sendConfig();
    return this;
  };

  PaymentElement.prototype.collapse = function () {
    return this;
  };

  // --- the global --------------------------------------------------------------------------

  function Stripe(publishableKey, options) {
    if (typeof publishableKey !== "string" || publishableKey === "") {
      throw integrationError(
        "Invalid value for Stripe(): apiKey should be a string. You specified: " +
          (publishableKey === "" ? "an empty string" : typeof publishableKey) +
          "."
      );
    }
    if (/^(sk|rk)_/.test(publishableKey)) {
      throw integrationError(
        "You should not use your secret key with Stripe.js.\nPlease pass a publishable key instead."
      );
    }
    if (!/^pk_/.test(publishableKey)) {
      throw integrationError("Invalid value for Stripe(): apiKey should be a publishable key (pk_...).");
    }
    return new StripeInstance(publishableKey, options || {});
  }
  Stripe.version = 3;

  window.Stripe = Stripe;
})();
