/*
 * The bank's 3-D Secure challenge as Stripe.js shows it: a modal iframe from the sandbox's
 * origin. The buttons answer through the sandbox's challenge control (POST /_sandbox/3ds/{pi},
 * as JSON so nothing navigates inside the frame), then tell the page, which reloads the
 * PaymentIntent.
 */
(function () {
  "use strict";

  var config = JSON.parse(decodeURIComponent(window.location.hash.slice(1)) || "{}");
  var complete = document.getElementById("complete");
  var fail = document.getElementById("fail");
  var status = document.getElementById("status");

  document.getElementById("payment-intent").textContent = config.paymentIntent || "";

  function formatAmount(amount, currency) {
    try {
      var format = new Intl.NumberFormat("en", { style: "currency", currency: currency.toUpperCase() });
      var digits = format.resolvedOptions().maximumFractionDigits;
      return format.format(amount / Math.pow(10, digits));
    } catch (error) {
      return amount + " " + currency.toUpperCase();
    }
  }

  var query =
    "?client_secret=" + encodeURIComponent(config.clientSecret) + "&key=" + encodeURIComponent(config.key);
  fetch("/v1/payment_intents/" + encodeURIComponent(config.paymentIntent) + query, { credentials: "omit" })
    .then(function (response) {
      return response.json();
    })
    .then(function (intent) {
      if (!intent.error) {
        document.getElementById("amount").textContent = formatAmount(intent.amount, intent.currency);
      }
    })
    .catch(function () {
      return null;
    });

  function answer(outcome) {
    complete.disabled = true;
    fail.disabled = true;
    status.textContent = outcome === "pass" ? "Authenticating…" : "Declining the authentication…";
    fetch("/_sandbox/3ds/" + encodeURIComponent(config.paymentIntent), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ outcome: outcome }),
      credentials: "omit"
    })
      .catch(function () {
        return null;
      })
      .then(function () {
        post({ type: "three_d_secure_complete", outcome: outcome });
      });
  }

  function post(message) {
    message.channel = config.channel;
    message.height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    window.parent.postMessage(message, config.parentOrigin);
  }

  complete.addEventListener("click", function () {
    answer("pass");
  });
  fail.addEventListener("click", function () {
    answer("fail");
  });
  // Chrome ignores focus() in a cross-origin frame until the frame itself has focus, which
  // the page gives it once loaded; then the first answer is ready for the keyboard.
  function focusFirst() {
    if (document.activeElement === document.body || document.activeElement === null) {
      complete.focus();
    }
  }
  window.addEventListener("focus", focusFirst);
  focusFirst();
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(function () {
      post({ type: "resize" });
    }).observe(document.documentElement);
  }
  post({ type: "resize" });
})();
