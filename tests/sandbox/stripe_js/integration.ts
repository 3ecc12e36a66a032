/*
 * A Payment Element integration written the way a merchant writes one, against the real
 * @stripe/stripe-js declarations (type-checked with `tsc --strict`). The browser tests compile
 * it and run it against the Stripe sandbox's Stripe.js stand-in, so the stand-in is held to the
 * calls and shapes that real code relies on, not to what the sandbox's authors expected.
 *
 * One page, three uses, chosen by the path:
 *   /checkout?client_secret=&redirect=if_required|always   the payment form
 *   /return?payment_intent=&payment_intent_client_secret=&redirect_status=   after a redirect
 *   /next-action?client_secret=    a PaymentIntent the server confirmed, needing 3-D Secure
 */
import type {
  PaymentIntent,
  Stripe,
  StripeConstructor,
  StripeElements,
  StripeError,
  StripePaymentElement,
  StripePaymentElementChangeEvent,
} from "@stripe/stripe-js";

const query = new URLSearchParams(window.location.search);

function param(name: string): string {
  const value = query.get(name);
  if (!value) {
    throw new Error(`the page needs ?${name}=`);
  }
  return value;
}

function byId<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) {
    throw new Error(`#${id} is missing from the page`);
  }
  return found as T;
}

function loadStripe(): Stripe {
  const constructor: StripeConstructor | undefined = window.Stripe;
  if (constructor === undefined) {
    throw new Error("Stripe.js did not load");
  }
  // The site puts its publishable key in the page, as it would any public configuration.
  const key = document.querySelector<HTMLMetaElement>('meta[name="stripe-publishable-key"]');
  if (key === null || key.content === "") {
    throw new Error("the page has no stripe-publishable-key");
  }
  return constructor(key.content, { locale: "en" });
}

function say(text: string, kind: "info" | "error" | "success"): void {
  const message = byId<HTMLParagraphElement>("message");
  message.textContent = text;
  message.dataset.kind = kind;
}

function showError(error: StripeError): void {
  const message = byId<HTMLParagraphElement>("message");
  say(error.message ?? "Something went wrong.", "error");
  message.dataset.type = error.type;
  message.dataset.code = error.code ?? "";
  message.dataset.declineCode = error.decline_code ?? "";
  message.dataset.paymentIntentStatus = error.payment_intent?.status ?? "";
}

function showPaymentIntent(intent: PaymentIntent): void {
  const result = byId<HTMLElement>("result");
  result.hidden = false;
  result.dataset.status = intent.status;
  byId<HTMLElement>("result-title").textContent =
    intent.status === "succeeded" ? "Payment succeeded" : `Payment ${intent.status}`;
  byId<HTMLElement>("result-detail").textContent = intent.id;
  say(`PaymentIntent ${intent.id}: ${intent.status}.`, intent.status === "succeeded" ? "success" : "info");
}

function formatAmount(intent: PaymentIntent): string {
  const format = new Intl.NumberFormat("en", { style: "currency", currency: intent.currency.toUpperCase() });
  return format.format(intent.amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
}

async function checkoutPage(stripe: Stripe): Promise<void> {
  const clientSecret = param("client_secret");
  const redirect = query.get("redirect") === "always" ? "always" : "if_required";
  const returnUrl = new URL("/return", window.location.href).toString();
  byId<HTMLElement>("checkout").hidden = false;

  const loaded = await stripe.retrievePaymentIntent(clientSecret);
  if (loaded.error) {
    showError(loaded.error);
    return;
  }
  byId<HTMLElement>("amount").textContent = formatAmount(loaded.paymentIntent);

  const elements: StripeElements = stripe.elements({
    clientSecret,
    appearance: { theme: "stripe", variables: { colorPrimary: "#5046e5", borderRadius: "6px" } },
    locale: "en",
  });
  const paymentElement: StripePaymentElement = elements.create("payment", { layout: "tabs" });
  const state = byId<HTMLElement>("element-state");
  paymentElement.on("ready", () => {
    document.body.dataset.elementReady = "true";
  });
  paymentElement.on("change", (event: StripePaymentElementChangeEvent) => {
    state.textContent = event.complete ? "complete" : event.empty ? "empty" : "incomplete";
    state.dataset.valueType = event.value.type;
  });
  paymentElement.on("focus", () => {
    document.body.dataset.elementFocused = "true";
  });
  paymentElement.on("blur", () => {
    document.body.dataset.elementFocused = "false";
  });
  paymentElement.mount("#payment-element");

  const form = byId<HTMLFormElement>("payment-form");
  const button = byId<HTMLButtonElement>("submit");
  form.addEventListener("submit", (event: SubmitEvent) => {
    event.preventDefault();
    void pay();
  });

  async function pay(): Promise<void> {
    button.disabled = true;
    say("Processing…", "info");
    const submitted = await elements.submit();
    if (submitted.error) {
      showError(submitted.error);
      button.disabled = false;
      return;
    }
    const billing_details = { name: byId<HTMLInputElement>("name").value };
    if (redirect === "always") {
      // Resolves only when the payment fails; otherwise the browser goes to return_url.
      const { error } = await stripe.confirmPayment({
        elements,
        confirmParams: { return_url: returnUrl, payment_method_data: { billing_details } },
      });
      showError(error);
      button.disabled = false;
      return;
    }
    const result = await stripe.confirmPayment({
      elements,
      clientSecret,
      confirmParams: { return_url: returnUrl, payment_method_data: { billing_details } },
      redirect: "if_required",
    });
    if (result.error) {
      showError(result.error);
      button.disabled = false;
      return;
    }
    showPaymentIntent(result.paymentIntent);
    // The form has done its job; a real page would show a receipt in its place.
    paymentElement.unmount();
    form.hidden = true;
  }
}

async function returnPage(stripe: Stripe): Promise<void> {
  const clientSecret = param("payment_intent_client_secret");
  byId<HTMLElement>("redirect-status").textContent = param("redirect_status");
  const { paymentIntent, error } = await stripe.retrievePaymentIntent(clientSecret);
  if (error) {
    showError(error);
    return;
  }
  showPaymentIntent(paymentIntent);
}

async function nextActionPage(stripe: Stripe): Promise<void> {
  const result = await stripe.handleNextAction({ clientSecret: param("client_secret") });
  if (result.error) {
    showError(result.error);
    return;
  }
  if (result.paymentIntent) {
    showPaymentIntent(result.paymentIntent);
  }
}

async function main(): Promise<void> {
  const path = window.location.pathname;
  if (path === "/return") {
    await returnPage(loadStripe());
  } else if (path === "/next-action") {
    await nextActionPage(loadStripe());
  } else {
    await checkoutPage(loadStripe());
  }
  document.body.dataset.loaded = "true";
}

main().catch((error: unknown) => {
  say(error instanceof Error ? `${error.name}: ${error.message}` : String(error), "error");
});
