"""The endpoint registry: parsing WHATSAPP_ENDPOINTS, key references, validation problems."""

from __future__ import annotations

import json
import pickle
import sys
import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenants.test import CANARY_KEYS, CANARY_PRIMARY, CANARY_SECONDARY, ENDPOINTS_JSON
from whatsapp.endpoints import (
    EndpointNotFound,
    EndpointRegistry,
    KeyReferenceError,
    Secret,
    parse_endpoints,
    parse_key_reference,
    registry,
)


def entry(name="Primary", url="https://wa.example.com", key="k-123456789", **extra) -> dict:
    return {"name": name, "apiUrl": url, "apiKey": key, **extra}


def parse(entries, environ=None):
    raw = entries if isinstance(entries, str) else json.dumps(entries)
    return parse_endpoints(raw, environ or {})


def codes(problems) -> list[str]:
    return [p.code for p in problems]


class TestRegistry:
    @pytest.fixture
    def reg(self):
        return EndpointRegistry(ENDPOINTS_JSON, {})

    def test_it_lists_names_in_configured_order(self, reg):
        assert reg.names() == ["Primary", "Secondary"]
        assert reg.problems == []

    def test_it_gives_the_server_the_full_config(self, reg):
        primary = reg.config("Primary")

        assert primary.name == "Primary"
        assert primary.api_url == "https://primary.gateway.test"
        assert primary.api_key.reveal() == CANARY_PRIMARY
        assert primary.provider == "waha"
        assert reg.config("Secondary").provider == "evolution"

    def test_it_gives_pages_metadata_without_the_key(self, reg):
        meta = reg.metadata("Secondary")

        assert (meta.name, meta.host, meta.provider) == (
            "Secondary",
            "secondary.gateway.test:8443",
            "evolution",
        )
        assert not hasattr(meta, "api_key")
        assert CANARY_SECONDARY not in repr(meta)
        assert [m.name for m in reg.all_metadata()] == ["Primary", "Secondary"]

    @pytest.mark.parametrize("name", ["Primary", "Secondary"])
    def test_it_accepts_exact_names(self, reg, name):
        assert reg.is_valid(name)

    @pytest.mark.parametrize(
        "name", ["primary", "PRIMARY", "Primary ", " Primary", "Prim", "", None, 1, ["Primary"]]
    )
    def test_it_rejects_anything_but_the_exact_name(self, reg, name):
        assert not reg.is_valid(name)

    @pytest.mark.parametrize("name", ["primary", "Nope", "", None, ["Primary"]])
    def test_it_raises_endpoint_not_found_for_unknown_names(self, reg, name):
        with pytest.raises(EndpointNotFound):
            reg.config(name)
        with pytest.raises(EndpointNotFound):
            reg.metadata(name)

    def test_it_strips_whitespace_and_a_trailing_slash(self):
        reg = EndpointRegistry(json.dumps([entry(name="  Main ", url=" https://wa.test/ ")]), {})

        assert reg.names() == ["Main"]
        assert reg.config("Main").api_url == "https://wa.test"

    def test_it_refuses_credentials_embedded_in_the_url_without_repeating_them(self):
        reg = EndpointRegistry(json.dumps([entry(url="https://user:s3cret-pw@wa.test:9000")]), {})

        assert reg.names() == []
        assert codes(reg.problems) == ["E005"]
        assert "s3cret-pw" not in reg.problems[0].message + reg.problems[0].hint
        assert "no credentials" in reg.problems[0].hint

    def test_it_keeps_valid_entries_when_others_are_broken(self):
        reg = EndpointRegistry(
            json.dumps([entry(name="Good"), entry(name="Bad", url="ftp://x"), "junk"]), {}
        )

        assert reg.names() == ["Good"]
        assert codes(reg.problems) == ["E005", "E003"]

    def test_it_collects_every_resolved_key_for_redaction(self, reg):
        assert sorted(reg.secret_values()) == sorted(CANARY_KEYS)

    def test_it_explains_why_no_endpoint_is_available(self):
        assert "unset or empty" in EndpointRegistry(None, {}).unavailable_reason()
        assert "not valid JSON" in EndpointRegistry("{", {}).unavailable_reason()
        assert "WHATSAPP_ENDPOINTS to a JSON list" in EndpointRegistry("", {}).unavailable_reason()

    def test_it_follows_changes_to_the_environment(self, monkeypatch):
        assert registry().names() == ["Primary", "Secondary"]

        monkeypatch.setenv("WHATSAPP_ENDPOINTS", json.dumps([entry(name="Only")]))
        assert registry().names() == ["Only"]

        monkeypatch.delenv("WHATSAPP_ENDPOINTS")
        assert registry().names() == []
        assert codes(registry().problems) == ["W001"]

    def test_it_parses_once_per_value(self):
        assert registry() is registry()


class TestSecret:
    def test_it_hides_itself_in_repr_str_and_format(self):
        secret = Secret(CANARY_PRIMARY)

        assert str(secret) == "***"
        assert "***" in repr(secret)
        assert f"{secret}" == "***"
        for text in (repr(secret), str(secret), f"{secret!r}", repr([secret]), repr({"k": secret})):
            assert CANARY_PRIMARY not in text

    def test_it_reveals_the_value_on_request(self):
        assert Secret(CANARY_PRIMARY).reveal() == CANARY_PRIMARY

    def test_it_cannot_be_pickled(self):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(Secret(CANARY_PRIMARY))

    def test_it_does_not_hide_inside_a_pickled_config(self):
        config = EndpointRegistry(ENDPOINTS_JSON, {}).config("Primary")

        with pytest.raises(TypeError):
            pickle.dumps(config)

    def test_it_keeps_the_key_out_of_the_config_repr(self):
        config = EndpointRegistry(ENDPOINTS_JSON, {}).config("Primary")

        assert CANARY_PRIMARY not in repr(config)
        assert CANARY_PRIMARY not in str(config)
        assert "Primary" in repr(config)

    def test_it_compares_by_value(self):
        assert Secret("a-key") == Secret("a-key")
        assert Secret("a-key") != Secret("b-key")
        assert Secret("a-key") != "a-key"


class TestKeyReferences:
    def test_it_reads_a_key_from_an_environment_variable(self):
        secret = parse_key_reference("${WAHA_KEY}", {"WAHA_KEY": "from-env-123"})

        assert secret.reveal() == "from-env-123"

    def test_it_lists_a_referenced_key_for_redaction(self):
        reg = EndpointRegistry(json.dumps([entry(key="${WAHA_KEY}")]), {"WAHA_KEY": "from-env-123"})

        assert reg.secret_values() == ["from-env-123"]

    def test_it_reads_a_key_from_a_file_without_the_newline(self, tmp_path):
        key_file = tmp_path / "waha_key"
        key_file.write_text("from-file-456\n")

        assert parse_key_reference(f"file:{key_file}", {}).reveal() == "from-file-456"

    def test_it_treats_anything_else_as_a_literal(self):
        assert parse_key_reference("plain-key", {}).reveal() == "plain-key"
        assert parse_key_reference("$WAHA_KEY", {}).reveal() == "$WAHA_KEY"

    @pytest.mark.parametrize(
        ("raw", "environ", "reason"),
        [
            ("${WAHA_KEY}", {}, "refers to ${WAHA_KEY}, which is not set or empty"),
            ("${WAHA_KEY}", {"WAHA_KEY": ""}, "refers to ${WAHA_KEY}, which is not set or empty"),
            ("file:/nonexistent/waha_key", {}, "cannot be read (No such file or directory)"),
            ("file:/tmp/nul\x00byte", {}, "cannot be read"),
        ],
    )
    def test_it_explains_an_unresolvable_reference(self, raw, environ, reason):
        with pytest.raises(KeyReferenceError) as error:
            parse_key_reference(raw, environ)

        assert reason in str(error.value)

    def test_it_refuses_an_empty_key_file(self, tmp_path):
        key_file = tmp_path / "empty"
        key_file.write_text("\n")

        with pytest.raises(KeyReferenceError, match="which is empty"):
            parse_key_reference(f"file:{key_file}", {})

    def test_it_refuses_a_directory_a_binary_file_and_a_huge_file(self, tmp_path):
        binary = tmp_path / "binary"
        binary.write_bytes(b"\xff\xfe\x00\x81")
        huge = tmp_path / "huge"
        huge.write_text("k" * 100_000)

        with pytest.raises(KeyReferenceError, match="cannot be read"):
            parse_key_reference(f"file:{tmp_path}", {})
        with pytest.raises(KeyReferenceError, match="not UTF-8"):
            parse_key_reference(f"file:{binary}", {})
        with pytest.raises(KeyReferenceError, match="larger than"):
            parse_key_reference(f"file:{huge}", {})

    def test_it_explains_that_boto3_is_needed_for_aws_secrets(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "boto3", None)  # makes `import boto3` fail

        with pytest.raises(KeyReferenceError) as error:
            parse_key_reference("$(AWS_SECRET:prod/waha)", {})

        message = str(error.value)
        assert "prod/waha" in message
        assert "boto3 is not installed" in message
        assert "pip install" in message

    def test_it_reports_a_missing_boto3_as_a_configuration_problem(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "boto3", None)

        endpoints, problems = parse([entry(key="$(AWS_SECRET:prod/waha)")])

        assert endpoints == {}
        assert codes(problems) == ["E008"]
        assert "boto3 is not installed" in problems[0].message
        assert "entry 0 ('Primary')" in problems[0].message

    def test_it_fetches_an_aws_secret_only_when_the_key_is_needed(self, monkeypatch):
        calls = []

        class FakeSecretsManager:
            def get_secret_value(self, SecretId):
                calls.append(SecretId)
                return {"SecretString": " from-aws-789\n"}

        fake_boto3 = types.SimpleNamespace(client=lambda service: FakeSecretsManager())
        monkeypatch.setitem(sys.modules, "boto3", fake_boto3)

        reg = EndpointRegistry(json.dumps([entry(key="$(AWS_SECRET:prod/waha)")]), {})
        assert calls == []
        assert reg.secret_values() == []  # not resolved yet, so nothing to redact yet

        assert reg.config("Primary").api_key.reveal() == "from-aws-789"
        assert calls == ["prod/waha"]
        assert reg.secret_values() == ["from-aws-789"]


class TestValidation:
    @pytest.mark.parametrize(
        ("raw", "code", "words"),
        [
            ("{not json", "E001", ["not valid JSON", "line 1"]),
            ("[" * 100_000, "E001", ["not valid JSON"]),
            ('{"name": "Primary"}', "E002", ["must be a JSON list", "not a dict"]),
            ('"Primary"', "E002", ["must be a JSON list", "not a str"]),
            ("42", "E002", ["must be a JSON list", "not a int"]),
        ],
    )
    def test_it_reports_a_document_that_is_not_a_list(self, raw, code, words):
        endpoints, problems = parse(raw)

        assert endpoints == {}
        assert codes(problems) == [code]
        for word in words:
            assert word in problems[0].message
        assert "WHATSAPP_ENDPOINTS" in problems[0].message
        assert problems[0].hint

    @pytest.mark.parametrize(
        ("entries", "code", "words"),
        [
            ([entry(), "Secondary"], "E003", ["entry 1", "not a JSON object"]),
            ([entry(), None], "E003", ["entry 1", "not a JSON object"]),
            ([entry(name="")], "E004", ["entry 0", "'name'"]),
            ([entry(name="   ")], "E004", ["entry 0", "'name'"]),
            (
                [{"apiUrl": "https://wa.test", "apiKey": CANARY_PRIMARY}],
                "E004",
                ["entry 0", "'name'"],
            ),
            ([entry(url="")], "E004", ["entry 0 ('Primary')", "'apiUrl'"]),
            ([entry(key="")], "E004", ["entry 0 ('Primary')", "'apiKey'"]),
            ([entry(key=12345)], "E004", ["entry 0 ('Primary')", "'apiKey'"]),
            ([{"name": "Primary"}], "E004", ["'apiUrl', 'apiKey'"]),
            ([entry(url="ftp://wa.test")], "E005", ["entry 0 ('Primary')", "apiUrl", "http(s)"]),
            ([entry(url="wa.test")], "E005", ["entry 0 ('Primary')", "apiUrl"]),
            ([entry(url="http://")], "E005", ["entry 0 ('Primary')", "apiUrl"]),
            ([entry(url="http://[")], "E005", ["entry 0 ('Primary')", "apiUrl"]),
            ([entry(url="http://wa.test:99999")], "E005", ["entry 0 ('Primary')", "apiUrl"]),
            ([entry(url="javascript:alert(1)")], "E005", ["entry 0 ('Primary')", "apiUrl"]),
            (
                [entry(), entry(name="Primary")],
                "E006",
                ["entry 1 ('Primary')", "name", "'Primary'"],
            ),
            (
                [entry(), entry(name="PRIMARY")],
                "E006",
                ["entry 1 ('PRIMARY')", "'Primary'", "ignoring case"],
            ),
            ([entry(provider="twilio")], "E007", ["entry 0 ('Primary')", "provider", "'twilio'"]),
            ([entry(provider="WAHA")], "E007", ["entry 0 ('Primary')", "provider"]),
            ([entry(provider=None)], "E007", ["entry 0 ('Primary')", "provider"]),
            (
                [entry(key="${MISSING_KEY}")],
                "E008",
                ["entry 0 ('Primary')", "apiKey", "${MISSING_KEY}"],
            ),
            (
                [entry(key="file:/nonexistent/key")],
                "E008",
                ["entry 0 ('Primary')", "apiKey", "/nonexistent/key"],
            ),
        ],
    )
    def test_it_names_the_entry_and_field_of_each_problem(self, entries, code, words):
        _, problems = parse(entries)

        assert codes(problems) == [code]
        problem = problems[0]
        for word in words:
            assert word in problem.message, problem.message
        assert not problem.is_warning
        assert problem.hint

    @pytest.mark.parametrize(
        "entries",
        [
            [entry(name="", key=CANARY_PRIMARY)],
            [entry(url="", key=CANARY_PRIMARY)],
            [entry(url="ftp://wa.test", key=CANARY_PRIMARY)],
            [entry(key=CANARY_PRIMARY), entry(name="primary", key=CANARY_SECONDARY)],
            [entry(provider="twilio", key=CANARY_PRIMARY)],
            [
                entry(
                    url=f"https://wa.test/?key={CANARY_PRIMARY}",
                    provider="nope",
                    key=CANARY_SECONDARY,
                )
            ],
            [CANARY_PRIMARY],
            {"apiKey": CANARY_PRIMARY},
        ],
    )
    def test_it_never_puts_a_key_in_a_problem(
        self,
        entries,
    ):
        _, problems = parse(entries)

        assert problems
        for problem in problems:
            for key in CANARY_KEYS:
                assert key not in problem.message
                assert key not in problem.hint
                assert key not in repr(problem)

    @pytest.mark.parametrize("raw", [None, "", "   ", "\n"])
    def test_it_warns_when_nothing_is_configured(self, raw):
        endpoints, problems = parse_endpoints(raw, {})

        assert endpoints == {}
        assert codes(problems) == ["W001"]
        assert problems[0].is_warning
        assert "unset or empty" in problems[0].message
        assert "WHATSAPP_ENDPOINTS" in problems[0].hint

    def test_it_accepts_an_empty_list_without_complaint(self):
        assert parse([]) == ({}, [])

    def test_it_reports_every_problem_not_only_the_first(self):
        _, problems = parse(
            [entry(name=""), entry(name="B", url="ftp://x"), entry(name="C", provider="x"), 7]
        )

        assert codes(problems) == ["E004", "E005", "E007", "E003"]


# --- property tests -------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
# Keys carry an upper-case marker that no other generated field can contain, so "the key is not
# in the message" cannot fail by coincidence.
api_keys = st.from_regex(r"\AKEY[0-9A-F]{16}\Z")
lowercase_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 -_./:", max_size=20)
entry_fields = st.fixed_dictionaries(
    {},
    optional={
        "name": lowercase_text | st.integers() | st.none(),
        "apiUrl": st.sampled_from(
            ["https://wa.test", "http://10.0.0.1:3000", "ftp://x", "http://", "http://[", ""]
        )
        | lowercase_text,
        "apiKey": api_keys,
        "provider": st.sampled_from(["waha", "evolution", "twilio", "", None]) | lowercase_text,
        "extra": json_values,
    },
)
entries_lists = st.lists(entry_fields | json_values, max_size=6)


class TestParserProperties:
    @given(raw=st.text())
    def test_it_never_raises_on_arbitrary_text(self, raw):
        endpoints, problems = parse_endpoints(raw, {})

        assert isinstance(endpoints, dict)
        assert all(p.code in {"W001", *(f"E00{i}" for i in range(1, 9))} for p in problems)

    @given(value=json_values)
    def test_it_never_raises_on_arbitrary_json(self, value):
        endpoints, problems = parse_endpoints(json.dumps(value), {})

        if not isinstance(value, list):
            assert endpoints == {}
            assert len(problems) == 1

    @given(entries=entries_lists)
    @settings(suppress_health_check=[HealthCheck.too_slow])
    def test_it_never_puts_any_api_key_in_a_problem(self, entries):
        _, problems = parse_endpoints(json.dumps(entries), {})

        keys = [e["apiKey"] for e in entries if isinstance(e, dict) and "apiKey" in e]
        for problem in problems:
            for key in keys:
                assert key not in problem.message
                assert key not in problem.hint

    @given(
        names=st.lists(
            st.text(min_size=1, max_size=30).filter(lambda n: n.strip()),
            max_size=8,
            unique_by=lambda n: n.strip().casefold(),
        ),
        data=st.data(),
    )
    def test_it_round_trips_the_names_of_a_valid_list(self, names, data):
        entries = [
            entry(
                name=name,
                url=data.draw(st.sampled_from(["https://wa.test", "http://127.0.0.1:3000/"])),
                key=data.draw(api_keys),
                provider=data.draw(st.sampled_from(["waha", "evolution"])),
            )
            for name in names
        ]

        reg = EndpointRegistry(json.dumps(entries), {})

        assert reg.problems == []
        assert reg.names() == [name.strip() for name in names]
        for item in entries:
            name = item["name"].strip()
            assert reg.is_valid(name)
            assert reg.config(name).api_key.reveal() == item["apiKey"]
            assert reg.metadata(name).provider == item["provider"]
