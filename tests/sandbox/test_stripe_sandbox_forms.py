"""Stripe's nested form encoding, parsed the way Stripe reads it."""

from __future__ import annotations

import pytest

from sandbox.stripe.errors import StripeError
from sandbox.stripe.forms import parse_form, parse_json, parse_query


class TestNestedForms:
    def test_nested_keys_indexed_arrays_and_appends(self) -> None:
        body = (
            b"amount=1000&metadata[order_id]=42&metadata[note]=&payment_method_types[0]=card"
            b"&payment_method_types[1]=link&expand[]=latest_charge&expand[]=payment_method"
            b"&payment_method_data[card][number]=4242424242424242"
            b"&payment_method_data[billing_details][address][city]=Berlin"
        )
        assert parse_form(body) == {
            "amount": "1000",
            "metadata": {"order_id": "42", "note": ""},
            "payment_method_types": ["card", "link"],
            "expand": ["latest_charge", "payment_method"],
            "payment_method_data": {
                "card": {"number": "4242424242424242"},
                "billing_details": {"address": {"city": "Berlin"}},
            },
        }

    def test_arrays_of_objects_keep_their_order(self) -> None:
        query = "items[1][price]=b&items[0][price]=a&items[10][price]=c"
        assert parse_query(query) == {"items": [{"price": "a"}, {"price": "b"}, {"price": "c"}]}

    def test_url_encoded_brackets(self) -> None:
        assert parse_query("metadata%5Bk%5D=v%20w") == {"metadata": {"k": "v w"}}

    def test_malformed_key_is_an_invalid_request(self) -> None:
        with pytest.raises(StripeError) as caught:
            parse_form(b"metadata[k=v")
        assert caught.value.status == 400

    def test_json_bodies_become_form_strings(self) -> None:
        assert parse_json(b'{"amount": 5, "confirm": true, "metadata": {"a": null}}') == {
            "amount": "5",
            "confirm": "true",
            "metadata": {"a": ""},
        }
