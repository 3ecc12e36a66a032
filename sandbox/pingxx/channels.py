# ruff: noqa: RUF001 -- Ping++ writes its messages in Chinese with full-width punctuation.
"""The seven channels: order_no rules, `extra` fields, expiry windows and credentials.

Sources: Ping++'s "创建 Charge 对象" reference (order_no: Alipay channels 1-64 letters and
digits, `wx` 2-32; time_expire: 1 minute to 15 days, default 1 day; WeChat 1 minute to 7
days, default 2 hours), the SDK's per-channel examples for `extra`, the reverse reference for
which channels can be closed, and Ping++'s help article on repeated order_no requests.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from random import Random
from typing import Any
from urllib.parse import quote

from .errors import invalid_request, parameter_invalid, parameter_missing
from .params import Params, get_bool, get_ip, get_str, get_url

Obj = dict[str, Any]

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR

_ALPHANUMERIC = re.compile(r"[0-9A-Za-z]+")


@dataclass(frozen=True)
class Channel:
    name: str
    family: str  # "alipay" or "wx"
    order_no_min: int
    order_no_max: int
    required_extra: tuple[str, ...]
    expire_max_seconds: int
    expire_default_seconds: int
    # An identical create (order_no, channel, amount, subject, body, app) this soon after
    # the first returns the first charge; Ping++ caches WeChat prepay orders for 2 hours.
    replay_window_seconds: int
    # Ping++'s reverse endpoint accepts these channels for an unpaid charge.
    reversible: bool
    redirects: bool = False
    optional_extra: tuple[str, ...] = field(default=())


CHANNELS: dict[str, Channel] = {
    "alipay_qr": Channel("alipay_qr", "alipay", 1, 64, (), 15 * DAY, DAY, MINUTE, reversible=True),
    "alipay_wap": Channel(
        "alipay_wap",
        "alipay",
        1,
        64,
        ("success_url",),
        15 * DAY,
        DAY,
        MINUTE,
        reversible=False,
        redirects=True,
        optional_extra=("cancel_url", "app_pay", "new_version"),
    ),
    "alipay_pc_direct": Channel(
        "alipay_pc_direct",
        "alipay",
        1,
        64,
        ("success_url",),
        15 * DAY,
        DAY,
        MINUTE,
        reversible=False,
        redirects=True,
        optional_extra=("enable_anti_phishing_key", "exter_invoke_ip"),
    ),
    # WeChat's own out_trade_no is at most 32 characters; Ping++ documents 2-32 for `wx`.
    "wx_pub": Channel(
        "wx_pub",
        "wx",
        2,
        32,
        ("open_id",),
        7 * DAY,
        2 * HOUR,
        2 * HOUR,
        reversible=True,
        optional_extra=("limit_pay", "goods_tag"),
    ),
    "wx_pub_qr": Channel(
        "wx_pub_qr",
        "wx",
        2,
        32,
        ("product_id",),
        7 * DAY,
        2 * HOUR,
        2 * HOUR,
        reversible=True,
        optional_extra=("limit_pay", "goods_tag"),
    ),
    "wx_wap": Channel(
        "wx_wap",
        "wx",
        2,
        32,
        (),
        7 * DAY,
        2 * HOUR,
        5 * MINUTE,
        reversible=True,
        redirects=True,
        optional_extra=("result_url", "goods_tag"),
    ),
    "wx_lite": Channel(
        "wx_lite",
        "wx",
        2,
        32,
        ("open_id",),
        7 * DAY,
        2 * HOUR,
        2 * HOUR,
        reversible=True,
        optional_extra=("limit_pay", "goods_tag"),
    ),
}


def get_channel(params: Params) -> Channel:
    name = get_str(params, "channel", required=True)
    assert name is not None
    channel = CHANNELS.get(name)
    if channel is None:
        supported = ", ".join(CHANNELS)
        raise parameter_invalid(
            "channel",
            f"无效的支付渠道：{name}。此 app 支持的渠道：{supported}。",
            f"Invalid channel: {name}. Channels enabled for this app: {supported}.",
        )
    return channel


def check_order_no(channel: Channel, order_no: str) -> None:
    if not (
        channel.order_no_min <= len(order_no) <= channel.order_no_max
        and _ALPHANUMERIC.fullmatch(order_no)
    ):
        low, high = channel.order_no_min, channel.order_no_max
        raise parameter_invalid(
            "order_no",
            f"{channel.name} 渠道的 order_no 须为 {low}-{high} 位的数字和字母组合，"
            "不允许特殊字符。",
            f"order_no for {channel.name} must be {low} to {high} letters or digits.",
        )


def check_extra(channel: Channel, extra: dict[str, Any]) -> dict[str, Any]:
    """Validate the fields Ping++ documents for the channel; others are passed through."""
    for name in channel.required_extra:
        if extra.get(name) in (None, ""):
            raise parameter_missing(f"extra[{name}]")
    for name in ("success_url", "cancel_url", "result_url"):
        if name in extra:
            get_url(extra, name, label=f"extra[{name}]")
    if "open_id" in extra:
        get_str(extra, "open_id", max_length=128, label="extra[open_id]")
    if "product_id" in extra:
        get_str(extra, "product_id", max_length=32, label="extra[product_id]")
    if "goods_tag" in extra:
        get_str(extra, "goods_tag", max_length=32, label="extra[goods_tag]")
    if "limit_pay" in extra and extra["limit_pay"] != "no_credit":
        raise parameter_invalid(
            "extra[limit_pay]",
            "extra[limit_pay] 只能为 no_credit。",
            "extra[limit_pay] may only be no_credit.",
        )
    for name in ("app_pay", "new_version", "enable_anti_phishing_key"):
        if name in extra:
            get_bool(extra, name, label=f"extra[{name}]")
    if "exter_invoke_ip" in extra:
        get_ip(extra, "exter_invoke_ip")
    return dict(extra)


def check_time_expire(channel: Channel, time_expire: int | None, now: int, min_seconds: int) -> int:
    if time_expire is None:
        return now + channel.expire_default_seconds
    if not now + min_seconds <= time_expire <= now + channel.expire_max_seconds:
        days = channel.expire_max_seconds // DAY
        raise parameter_invalid(
            "time_expire",
            f"{channel.name} 渠道的 time_expire 须在订单创建后的 1 分钟到 {days} 天之间。",
            f"time_expire for {channel.name} must be between 1 minute and {days} days "
            "after the charge is created.",
        )
    return time_expire


def check_currency(currency: str) -> None:
    if currency != "cny":
        raise invalid_request(
            f"无效的 currency：{currency}，该渠道只支持 cny。",
            f"Invalid currency: {currency}; the channel supports only cny.",
            param="currency",
        )


# --- credentials -----------------------------------------------------------------------------


def _token(rng: Random, length: int, alphabet: str) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_DIGITS = "0123456789"
_HEX = "0123456789abcdef"


def _prepay_id(rng: Random, now: int) -> str:
    return "wx" + time.strftime("%d%H%M%S", time.gmtime(now)) + _token(rng, 26, _HEX)


def _jsapi(rng: Random, now: int, app_id: str) -> Obj:
    # The six fields `WeixinJSBridge.invoke('getBrandWCPayRequest', ...)` and
    # `wx.requestPayment` take; pingpp-js refuses a credential missing any of them.
    return {
        "appId": app_id,
        "timeStamp": str(now),
        "nonceStr": _token(rng, 32, _ALNUM),
        "package": f"prepay_id={_prepay_id(rng, now)}",
        "signType": "MD5",
        "paySign": _token(rng, 32, _HEX).upper(),
    }


def _alipay_form(
    charge: Obj, method: str, product_code: str, channel_url: str, return_url: str | None
) -> Obj:
    """Alipay's `alipay.trade.*.pay` form parameters; pingpp-js submits them to channel_url."""
    biz_content = {
        "out_trade_no": charge["order_no"],
        "total_amount": f"{charge['amount'] / 100:.2f}",
        "subject": charge["subject"],
        "body": charge["body"],
        "product_code": product_code,
        "timeout_express": f"{max(1, (charge['time_expire'] - charge['created']) // 60)}m",
    }
    form: Obj = {
        "channel_url": channel_url,
        "app_id": "2016000000000000",
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(charge["created"])),
        "version": "1.0",
        "notify_url": f"https://notify.pingxx.com/notify/charges/{charge['id']}",
        "biz_content": json.dumps(biz_content, ensure_ascii=False, separators=(",", ":")),
    }
    if return_url:
        form["return_url"] = return_url
    return form


def build_credential(channel: Channel, charge: Obj, rng: Random, page_url: str | None) -> Obj:
    """The `credential` object; `page_url` replaces the gateways' hosts for redirects."""
    now = charge["created"]
    extra = charge["extra"]
    body: Any
    if channel.name == "alipay_qr":
        body = f"https://qr.alipay.com/bax0{_token(rng, 20, _HEX)}"
    elif channel.name == "wx_pub_qr":
        body = f"weixin://wxpay/bizpayurl?pr={_token(rng, 7, _ALNUM)}"
    elif channel.name in ("wx_pub", "wx_lite"):
        body = _jsapi(rng, now, "wx" + _token(rng, 16, _HEX))
    elif channel.name == "wx_wap":
        prepay = _prepay_id(rng, now)
        base = page_url or "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb"
        query = f"prepay_id={prepay}&package={_token(rng, 10, _DIGITS)}"
        result_url = extra.get("result_url")
        if result_url:
            query += f"&redirect_url={quote(result_url, safe='')}"
        body = f"{base}?{query}"
    elif channel.name == "alipay_wap":
        body = _alipay_form(
            charge,
            "alipay.trade.wap.pay",
            "QUICK_WAP_WAY",
            page_url or "https://openapi.alipay.com/gateway.do",
            extra.get("success_url"),
        )
    else:
        body = _alipay_form(
            charge,
            "alipay.trade.page.pay",
            "FAST_INSTANT_TRADE_PAY",
            page_url or "https://openapi.alipay.com/gateway.do",
            extra.get("success_url"),
        )
    return {"object": "credential", channel.name: body}


def transaction_no(channel: Channel, rng: Random, now: int) -> str:
    day = time.strftime("%Y%m%d", time.gmtime(now))
    if channel.family == "wx":
        # WeChat transaction_id: 28 digits, starting 4200... for most merchants.
        return "4200" + _token(rng, 6, _DIGITS) + day + _token(rng, 10, _DIGITS)
    return day + "22001" + _token(rng, 15, _DIGITS)


def paid_extra(channel: Channel, rng: Random) -> Obj:
    """The fields a channel adds to `extra` once paid (seen in Ping++'s webhook samples)."""
    if channel.family == "wx":
        return {"bank_type": "OTHERS", "is_subscribe": "N"}
    return {"buyer_account": f"sandbox{_token(rng, 4, _DIGITS)}@alipay.test"}


def refund_transaction_no(channel: Channel, rng: Random) -> str:
    if channel.family == "wx":
        return "5030" + _token(rng, 25, _DIGITS)
    return _token(rng, 28, _DIGITS)


DEFAULT_FAILURE: dict[str, tuple[str, str]] = {
    "alipay": ("TRADE_CLOSED", "交易关闭：买家未付款或付款失败"),
    "wx": ("PAYERROR", "支付失败：银行卡余额不足或其他原因"),
}
