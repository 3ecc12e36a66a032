"""The page a tester opens in place of the customer's phone: the QR scanned, the WeChat JSAPI
sheet, Alipay's cashier. Plain HTML forms, no script."""

from __future__ import annotations

import json
from html import escape
from typing import Any

Obj = dict[str, Any]

_STYLE = """
body { font-family: system-ui, sans-serif; background: #f5f5f5; margin: 0; }
main { max-width: 440px; margin: 48px auto; background: #fff; border-radius: 8px;
       padding: 28px; box-shadow: 0 2px 8px rgba(0,0,0,.08); }
h1 { font-size: 20px; margin-top: 0; }
.amount { font-size: 30px; font-weight: 600; margin: 12px 0; }
.muted { color: #6b7280; font-size: 14px; }
pre { background: #f3f4f6; padding: 10px; border-radius: 6px; white-space: pre-wrap;
      word-break: break-all; font-size: 12px; }
form { display: flex; gap: 12px; margin-top: 20px; }
button { flex: 1; padding: 12px; border: 0; border-radius: 6px; font-size: 16px; cursor: pointer; }
#pay { background: #1aad19; color: #fff; }
#pay.alipay { background: #1677ff; }
#fail { background: #e5e7eb; color: #111827; }
"""

_TITLES = {
    "alipay_qr": "支付宝扫码支付",
    "alipay_wap": "支付宝手机网站支付",
    "alipay_pc_direct": "支付宝电脑网站支付",
    "wx_pub_qr": "微信扫码支付",
    "wx_pub": "微信公众号支付",
    "wx_wap": "微信 H5 支付",
    "wx_lite": "微信小程序支付",
}


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def charge_page(charge: Obj, state: str, credential: Obj) -> str:
    channel = charge["channel"]
    title = _TITLES.get(channel) or str(channel)
    charge_id = escape(charge["id"])
    shown = credential.get(channel)
    detail = shown if isinstance(shown, str) else json.dumps(shown, ensure_ascii=False, indent=2)
    body = (
        f"<h1>{escape(title)}</h1>"
        '<p class="muted">Ping++ sandbox: you are the customer.</p>'
        f'<div class="amount" id="amount">¥{charge["amount"] / 100:.2f}</div>'
        f"<p>{escape(charge['subject'])}</p>"
        f'<p class="muted">Charge <code>{charge_id}</code>, order '
        f"<code>{escape(charge['order_no'])}</code>, status "
        f'<code id="status">{escape(state)}</code></p>'
    )
    if detail:
        body += f'<pre id="credential">{escape(detail)}</pre>'
    if state == "open":
        pay_class = "alipay" if channel.startswith("alipay") else "wx"
        body += (
            f'<form method="post" action="/_sandbox/charges/{charge_id}/pay">'
            f'<button id="pay" class="{pay_class}" type="submit">Pay</button></form>'
            f'<form method="post" action="/_sandbox/charges/{charge_id}/fail">'
            '<button id="fail" type="submit">Fail</button></form>'
        )
    return _page(title, body)
