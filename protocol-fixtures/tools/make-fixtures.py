#!/usr/bin/env python3
"""Writes the handmade fixtures under ../handmade and ../malformed.

The bytes are built here with Python's struct module, independently of the Swift
encoder, and each case's expected fields are written out by hand below. When
tshark is installed, its decode of each case is recorded beside ours in the
fixture ("tshark"), so the table-driven test also checks us against Wireshark's
dissector without needing tshark at test time.
Usage: make-fixtures.py [--no-tshark]
"""
import json, os, shutil, struct, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")

# ---------- an independent little SMPP encoder ----------
def c(s):  # C-Octet String
    return (s.encode("latin-1") if isinstance(s, str) else s) + b"\0"

def pdu(cmd, body=b"", status=0, seq=1, length=None):
    n = 16 + len(body) if length is None else length
    return struct.pack(">IIII", n, cmd, status, seq) + body

def tlv(tag, value):
    return struct.pack(">HH", tag, len(value)) + value

def sm_body(src="WhatsApp", src_ton=5, src_npi=0, dst="447700900123", dst_ton=1, dst_npi=1, esm=0, dc=0,
            msg=b"", tlvs=b"", service="", pid=0, prio=0, sched="", valid="", reg=0, rep=0, defid=0, smlen=None):
    return (c(service) + bytes([src_ton, src_npi]) + c(src) + bytes([dst_ton, dst_npi]) + c(dst)
            + bytes([esm, pid, prio]) + c(sched) + c(valid) + bytes([reg, rep, dc, defid])
            + bytes([len(msg) if smlen is None else smlen]) + msg + tlvs)

GSM_DEFAULT = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
               "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXT = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65}

def gsm7(text):
    out = bytearray()
    for ch in text:
        if ch in GSM_EXT:
            out += bytes([0x1B, GSM_EXT[ch]])
        else:
            out.append(GSM_DEFAULT.index(ch))
    return bytes(out)

def pack7(septets, fill=0):
    bits = fill
    out = bytearray((fill + 7 * len(septets) + 7) // 8)
    for s in septets:
        v = (s & 0x7F) << (bits % 8)
        out[bits // 8] |= v & 0xFF
        if bits % 8 > 1:
            out[bits // 8 + 1] |= v >> 8
        bits += 7
    return bytes(out)

def ucs2(text):
    return text.encode("utf-16-be")

DELIVER, SUBMIT, DATA = 0x05, 0x04, 0x103

cases = []  # (folder, name, description, bytes, expect, options)
def add(folder, name, desc, data, expect, options=None):
    cases.append((folder, name, desc, data, expect, options or {}))

def ok(cmd, **fields):
    d = {"command": cmd}
    d.update(fields)
    return {"pdus": [d], "end": "complete"}

def err(code, offset, status):
    return {"pdus": [{"error": {"code": code, "offset": offset, "command_status_name": status}}], "end": "complete"}

# ---------- every PDU type ----------
bind = c("trueotp") + c("s3cret") + c("OTP") + bytes([0x34, 1, 1]) + c("^4477")
for cmd, name in [(0x1, "bind_receiver"), (0x2, "bind_transmitter"), (0x9, "bind_transceiver")]:
    add("handmade", f"{name}", f"{name} with system_type and an address_range", pdu(cmd, bind, seq=7),
        ok(name, system_id="trueotp", password="******", system_type="OTP", interface_version=52,
           addr_ton=1, addr_npi=1, address_range="^4477", sequence_number=7))
    add("handmade", f"{name}_resp", f"{name}_resp with sc_interface_version", pdu(cmd | 0x80000000, c("SMSC01") + tlv(0x0210, b"\x34"), seq=7),
        ok(name + "_resp", system_id="SMSC01", tlvs=[{"tag": "0x0210", "name": "sc_interface_version", "length": 1, "value": "34"}]))
add("handmade", "bind_transceiver_resp-error-no-body", "a bind refused with ESME_RINVPASWD and no body",
    pdu(0x80000009, status=0x0E, seq=2), ok("bind_transceiver_resp", command_status=14, command_status_name="ESME_RINVPASWD"))
add("handmade", "outbind", "outbind from an SMSC", pdu(0x0B, c("SMSC01") + c("pw")),
    ok("outbind", system_id="SMSC01", password="**"))
for cmd, name in [(0x06, "unbind"), (0x80000006, "unbind_resp"), (0x15, "enquire_link"), (0x80000015, "enquire_link_resp"),
                  (0x80000007, "replace_sm_resp"), (0x80000008, "cancel_sm_resp")]:
    add("handmade", name, f"header-only {name}", pdu(cmd, seq=0x7FFFFFFF), ok(name, sequence_number=0x7FFFFFFF, tlvs=[]))
add("handmade", "generic_nack", "generic_nack answering an unknown command", pdu(0x80000000, status=3, seq=99),
    ok("generic_nack", command_status=3, command_status_name="ESME_RINVCMDID"))
add("handmade", "submit_sm", "submit_sm requesting a receipt",
    pdu(SUBMIT, sm_body(src="TrueOTP", dst="447700900123", msg=gsm7("Hello"), reg=1, valid="000001000000000R")),
    ok("submit_sm", source_addr="TrueOTP", validity_period="000001000000000R", registered_delivery=1, text="Hello"))
add("handmade", "submit_sm_resp", "submit_sm_resp with a message_id", pdu(0x80000004, c("5f3e1a")),
    ok("submit_sm_resp", message_id="5f3e1a"))
add("handmade", "deliver_sm_resp", "deliver_sm_resp: message_id unused, empty", pdu(0x80000005, c("")),
    ok("deliver_sm_resp", message_id=""))
add("handmade", "data_sm", "data_sm with message_payload (UCS2)",
    pdu(DATA, c("") + bytes([5, 0]) + c("Viber") + bytes([1, 1]) + c("380501234567") + bytes([0, 0, 8]) + tlv(0x0424, ucs2("Ваш код Viber: 204913"))),
    ok("data_sm", source_addr="Viber", destination_addr="380501234567", data_coding=8, text="Ваш код Viber: 204913", encoding="ucs2"))
add("handmade", "data_sm_resp", "data_sm_resp with delivery_failure_reason and additional_status_info_text",
    pdu(0x80000103, c("abc") + tlv(0x0425, b"\x01") + tlv(0x001D, c("queue full")), status=0xFE),
    ok("data_sm_resp", message_id="abc", command_status_name="ESME_RDELIVERYFAILURE",
       tlvs=[{"tag": "0x0425", "name": "delivery_failure_reason", "length": 1, "value": "01"},
             {"tag": "0x001d", "name": "additional_status_info_text", "length": 11, "value": "71756575652066756c6c00"}]))
add("handmade", "query_sm", "query_sm", pdu(0x03, c("12345") + bytes([1, 1]) + c("447700900123")),
    ok("query_sm", message_id="12345", source_addr="447700900123", source_addr_ton=1))
add("handmade", "query_sm_resp", "query_sm_resp: delivered", pdu(0x80000003, c("12345") + c("2611250101000+") + bytes([2, 0])),
    ok("query_sm_resp", message_id="12345", final_date="2611250101000+", message_state=2, error_code=0))
add("handmade", "cancel_sm", "cancel_sm", pdu(0x08, c("") + c("12345") + bytes([1, 1]) + c("4477") + bytes([1, 1]) + c("4478")),
    ok("cancel_sm", message_id="12345", source_addr="4477", destination_addr="4478"))
add("handmade", "replace_sm", "replace_sm", pdu(0x07, c("12345") + bytes([1, 1]) + c("4477") + c("") + c("") + bytes([0, 0, 3]) + b"abc"),
    ok("replace_sm", message_id="12345", sm_length=3, short_message="616263"))
add("handmade", "submit_multi", "submit_multi to one SME and one distribution list",
    pdu(0x21, c("") + bytes([5, 0]) + c("TrueOTP") + bytes([2]) + bytes([1, 1, 1]) + c("447700900123") + bytes([2]) + c("ops")
        + bytes([0, 0, 0]) + c("") + c("") + bytes([0, 0, 0, 0, 2]) + b"hi"),
    ok("submit_multi", number_of_dests=2, dest_address=[
        {"dest_flag": 1, "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "447700900123"},
        {"dest_flag": 2, "dl_name": "ops"}], short_message="6869"))
add("handmade", "submit_multi_resp", "submit_multi_resp with two unsuccessful destinations",
    pdu(0x80000021, c("m1") + bytes([2]) + bytes([1, 1]) + c("4477") + struct.pack(">I", 0x0B) + bytes([1, 1]) + c("4478") + struct.pack(">I", 0x14)),
    ok("submit_multi_resp", message_id="m1", no_unsuccess=2, unsuccess_sme=[
        {"dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "4477", "error_status_code": 11},
        {"dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "4478", "error_status_code": 20}]))
add("handmade", "alert_notification", "alert_notification with ms_availability_status",
    pdu(0x102, bytes([1, 1]) + c("447700900123") + bytes([1, 1]) + c("4477") + tlv(0x0422, b"\x00")),
    ok("alert_notification", source_addr="447700900123", esme_addr="4477",
       tlvs=[{"tag": "0x0422", "name": "ms_availability_status", "length": 1, "value": "00"}]))

# ---------- data codings ----------
otp = "Your code is 482913"
add("handmade", "deliver_sm-gsm7-otp", "the representative GSM 7-bit OTP with two TLVs",
    pdu(DELIVER, sm_body(msg=gsm7(otp), tlvs=tlv(0x000E, b"\x01") + tlv(0x0006, b"\x01"))),
    ok("deliver_sm", source_addr="WhatsApp", source_addr_ton=5, destination_addr="447700900123", data_coding=0,
       encoding="gsm7", text=otp, text_invalid=False))
ext = "€5 [a] {b} ~c^ \\d |e\fX"
add("handmade", "deliver_sm-gsm7-extension", "GSM 7-bit with every extension-table character",
    pdu(DELIVER, sm_body(msg=gsm7(ext))), ok("deliver_sm", text=ext, encoding="gsm7", text_invalid=False))
allchars = "".join(ch for ch in GSM_DEFAULT if ch != "\x1b")
add("handmade", "deliver_sm-gsm7-full-alphabet", "every character of the GSM 7-bit default alphabet",
    pdu(DELIVER, sm_body(msg=gsm7(allchars))), ok("deliver_sm", text=allchars, text_invalid=False))
add("handmade", "deliver_sm-gsm7-packed", "packed GSM 7-bit (carrier configured gsm7-packed)",
    pdu(DELIVER, sm_body(msg=pack7(list(gsm7("hellohello"))))),
    ok("deliver_sm", text="hellohello", encoding="gsm7_packed"), {"default_alphabet": "gsm7-packed"})
add("handmade", "deliver_sm-gsm7-packed-7chars", "packed GSM 7-bit, 7 characters: the zero fill septet is padding",
    pdu(DELIVER, sm_body(msg=pack7(list(gsm7("1234567"))))),
    ok("deliver_sm", text="1234567", sm_length=7), {"default_alphabet": "gsm7-packed"})
add("handmade", "deliver_sm-gsm7-invalid-octet", "an octet above 0x7F in GSM 7-bit text decodes to U+FFFD, flagged",
    pdu(DELIVER, sm_body(msg=gsm7("code 12") + b"\x80")), ok("deliver_sm", text="code 12\ufffd", text_invalid=True))
add("handmade", "deliver_sm-gsm7-trailing-escape", "a lone escape at the end decodes to a space, flagged",
    pdu(DELIVER, sm_body(msg=gsm7("ab") + b"\x1b")), ok("deliver_sm", text="ab ", text_invalid=True))
add("handmade", "deliver_sm-ia5", "IA5 (data_coding 1)", pdu(DELIVER, sm_body(dc=1, msg=b"Code: 5521")),
    ok("deliver_sm", data_coding=1, encoding="ia5", text="Code: 5521"))
add("handmade", "deliver_sm-latin1", "Latin-1 (data_coding 3)",
    pdu(DELIVER, sm_body(dc=3, msg="Su código es 5521. Válido".encode("latin-1"))),
    ok("deliver_sm", data_coding=3, encoding="latin1", text="Su código es 5521. Válido"))
add("handmade", "deliver_sm-binary", "8-bit binary (data_coding 4): no text",
    pdu(DELIVER, sm_body(dc=4, msg=bytes([0xde, 0xad, 0xbe, 0xef]))),
    ok("deliver_sm", data_coding=4, encoding="binary", text=None, short_message="deadbeef"))
add("handmade", "deliver_sm-binary-2", "8-bit binary (data_coding 2)", pdu(DELIVER, sm_body(dc=2, msg=b"\x00\x01")),
    ok("deliver_sm", data_coding=2, encoding="binary", text=None))
add("handmade", "deliver_sm-cyrillic", "Cyrillic ISO-8859-5 (data_coding 6)",
    pdu(DELIVER, sm_body(dc=6, msg="Код: 7351 №1 ё".encode("iso8859_5"))),
    ok("deliver_sm", data_coding=6, encoding="cyrillic", text="Код: 7351 №1 ё"))
add("handmade", "deliver_sm-latin-hebrew", "Latin/Hebrew ISO-8859-8 (data_coding 7)",
    pdu(DELIVER, sm_body(dc=7, msg="קוד: 4417 ×".encode("iso8859_8"))),
    ok("deliver_sm", data_coding=7, encoding="latin_hebrew", text="קוד: 4417 ×"))
add("handmade", "deliver_sm-ucs2-cyrillic", "UCS2 Cyrillic", pdu(DELIVER, sm_body(dc=8, msg=ucs2("Код подтверждения: 73519"))),
    ok("deliver_sm", data_coding=8, encoding="ucs2", text="Код подтверждения: 73519"))
add("handmade", "deliver_sm-ucs2-arabic", "UCS2 Arabic", pdu(DELIVER, sm_body(dc=8, msg=ucs2("رمز التحقق 6604"))),
    ok("deliver_sm", encoding="ucs2", text="رمز التحقق 6604"))
add("handmade", "deliver_sm-ucs2-chinese-emoji", "UCS2 Chinese with an emoji as a surrogate pair",
    pdu(DELIVER, sm_body(dc=8, msg=ucs2("您的验证码是 918273 🔐"))),
    ok("deliver_sm", encoding="ucs2", text="您的验证码是 918273 🔐", text_invalid=False))
add("handmade", "deliver_sm-ucs2-odd-length", "UCS2 with an odd byte count: U+FFFD, flagged",
    pdu(DELIVER, sm_body(dc=8, msg=ucs2("ab") + b"\x00")), ok("deliver_sm", text="ab\ufffd", text_invalid=True))
add("handmade", "deliver_sm-ucs2-unpaired-surrogate", "UCS2 with a lone high surrogate: U+FFFD, flagged",
    pdu(DELIVER, sm_body(dc=8, msg=b"\xd8\x3d\x00\x41")), ok("deliver_sm", text="\ufffdA", text_invalid=True))
add("handmade", "deliver_sm-dcs-f0-gsm7-class0", "GSM DCS group 0xF0: GSM 7-bit, class 0 (flash)",
    pdu(DELIVER, sm_body(dc=0xF0, msg=gsm7("Flash 1234"))), ok("deliver_sm", data_coding=240, encoding="gsm7", text="Flash 1234"))
add("handmade", "deliver_sm-dcs-f6-8bit", "GSM DCS group 0xF6: 8-bit data, class 2",
    pdu(DELIVER, sm_body(dc=0xF6, msg=b"\x01\x02")), ok("deliver_sm", encoding="binary", text=None))
add("handmade", "deliver_sm-dcs-18-ucs2-class0", "GSM DCS general group 0x18: UCS2, class 0",
    pdu(DELIVER, sm_body(dc=0x18, msg=ucs2("Код 1"))), ok("deliver_sm", encoding="ucs2", text="Код 1"))
add("handmade", "deliver_sm-dcs-11-gsm7-class1", "GSM DCS general group 0x11: GSM 7-bit, class 1",
    pdu(DELIVER, sm_body(dc=0x11, msg=gsm7("abc"))), ok("deliver_sm", encoding="gsm7", text="abc"))
add("handmade", "deliver_sm-dcs-20-compressed", "GSM DCS 0x20: compressed text cannot be read, kept as binary",
    pdu(DELIVER, sm_body(dc=0x20, msg=b"\x11\x22")), ok("deliver_sm", encoding="binary", text=None))
add("handmade", "deliver_sm-dcs-e8-mwi-ucs2", "GSM DCS 0xE8: message waiting indication, UCS2",
    pdu(DELIVER, sm_body(dc=0xE8, msg=ucs2("Voicemail"))), ok("deliver_sm", encoding="ucs2", text="Voicemail"))
add("handmade", "deliver_sm-jis", "JIS (data_coding 5): registered but not decodable here, kept as binary",
    pdu(DELIVER, sm_body(dc=5, msg=b"\x30\x21")), ok("deliver_sm", encoding="unsupported", text=None))
# National language shift tables (UDH IE 0x24 single shift, 0x25 locking shift).
tr_lock = "ıĞğŞşİç"
tr_codes = bytes([0x07, 0x0B, 0x0C, 0x1C, 0x1D, 0x40, 0x60])
add("handmade", "deliver_sm-turkish-locking-shift", "Turkish locking shift table (UDH IE 0x25 = 1)",
    pdu(DELIVER, sm_body(esm=0x40, msg=bytes([3, 0x25, 1, 1]) + tr_codes)), ok("deliver_sm", text=tr_lock, text_invalid=False))
add("handmade", "deliver_sm-turkish-single-shift", "Turkish single shift table (UDH IE 0x24 = 1): ESC+G = Ğ, ESC+i = ı",
    pdu(DELIVER, sm_body(esm=0x40, msg=bytes([3, 0x24, 1, 1]) + gsm7("Kod") + bytes([0x1B, 0x47, 0x1B, 0x69, 0x1B, 0x65]))),
    ok("deliver_sm", text="KodĞı€"))
add("handmade", "deliver_sm-spanish-single-shift", "Spanish single shift table (UDH IE 0x24 = 2): á í ó ú ç",
    pdu(DELIVER, sm_body(esm=0x40, msg=bytes([3, 0x24, 1, 2]) + gsm7("C") + bytes([0x1B, 0x6F]) + gsm7("digo ") + bytes([0x1B, 0x61, 0x1B, 0x69, 0x1B, 0x75, 0x1B, 0x09]))),
    ok("deliver_sm", text="Código áíúç"))
add("handmade", "deliver_sm-portuguese-locking-shift", "Portuguese locking shift table (UDH IE 0x25 = 3)",
    pdu(DELIVER, sm_body(esm=0x40, msg=bytes([3, 0x25, 1, 3]) + bytes([0x04, 0x09, 0x5B, 0x7B, 0x5C, 0x7C, 0x1B, 0x3C]))),
    ok("deliver_sm", text="êçÃãÕõ["))
add("handmade", "deliver_sm-portuguese-both-shifts", "Portuguese locking and single shift together",
    pdu(DELIVER, sm_body(esm=0x40, msg=bytes([6, 0x25, 1, 3, 0x24, 1, 3]) + bytes([0x1B, 0x05, 0x1B, 0x7F, 0x40]))),
    ok("deliver_sm", text="êâÍ"))
# UDH concatenation, SAR, message_payload.
add("handmade", "deliver_sm-udh8-part1", "concatenation IEI 0x00, 8-bit reference 0x2A, part 1 of 2",
    pdu(DELIVER, sm_body(esm=0x40, msg=bytes([5, 0, 3, 0x2A, 2, 1]) + gsm7("Your Google code is G-77"))),
    ok("deliver_sm", esm_class=64, concatenation={"kind": "udh8", "reference": 42, "total": 2, "sequence": 1},
       udh={"malformed": False, "length": 6, "elements": [{"iei": 0, "data": "2a0201"}]}, text="Your Google code is G-77"))
add("handmade", "deliver_sm-udh16-part2", "concatenation IEI 0x08, 16-bit reference 0x012C, part 2 of 3",
    pdu(DELIVER, sm_body(esm=0x40, dc=8, msg=bytes([6, 8, 4, 1, 0x2C, 3, 2]) + ucs2("часть"))),
    ok("deliver_sm", concatenation={"kind": "udh16", "reference": 300, "total": 3, "sequence": 2}, text="часть"))
add("handmade", "deliver_sm-udh-other-ie-kept", "a UDH with an application port IE (0x05) and concatenation: other IEs kept",
    pdu(DELIVER, sm_body(esm=0x40, dc=4, msg=bytes([11, 5, 4, 0x0B, 0x84, 0x23, 0xF0, 0, 3, 7, 2, 2]) + b"\x01")),
    ok("deliver_sm", udh={"malformed": False, "length": 12, "elements": [{"iei": 5, "data": "0b8423f0"}, {"iei": 0, "data": "070202"}]},
       concatenation={"kind": "udh8", "reference": 7, "total": 2, "sequence": 2}))
add("handmade", "deliver_sm-udh-malformed", "UDHI set but UDHL runs past the payload: header ignored, flagged, PDU still valid",
    pdu(DELIVER, sm_body(esm=0x40, msg=bytes([9, 0, 3]) + gsm7("ab"))), ok("deliver_sm", udh={"malformed": True}))
add("handmade", "deliver_sm-udh8-invalid-seq", "concatenation IE with sequence 0 is ignored (23.040 9.2.3.24.1)",
    pdu(DELIVER, sm_body(esm=0x40, msg=bytes([5, 0, 3, 1, 2, 0]) + gsm7("x"))), ok("deliver_sm", text="x"))
sar = tlv(0x020C, b"\x12\x34") + tlv(0x020E, b"\x02") + tlv(0x020F, b"\x01")
add("handmade", "deliver_sm-sar", "SAR TLVs: reference 0x1234, part 1 of 2",
    pdu(DELIVER, sm_body(msg=gsm7("Seu codigo e 4417"), tlvs=sar)),
    ok("deliver_sm", concatenation={"kind": "sar", "reference": 4660, "total": 2, "sequence": 1}, text="Seu codigo e 4417"))
payload = gsm7("Amazon: your one-time password is 552019. " * 5)
add("handmade", "deliver_sm-message-payload", "message_payload with sm_length 0 (over 140 octets)",
    pdu(DELIVER, sm_body(msg=b"", tlvs=tlv(0x0424, payload))),
    ok("deliver_sm", sm_length=0, short_message="", text="Amazon: your one-time password is 552019. " * 5))
add("handmade", "deliver_sm-message-payload-udh", "message_payload carrying a UDH (concatenation) with UCS2",
    pdu(DELIVER, sm_body(esm=0x40, dc=8, msg=b"", tlvs=tlv(0x0424, bytes([5, 0, 3, 9, 2, 1]) + ucs2("код 1234")))),
    ok("deliver_sm", concatenation={"kind": "udh8", "reference": 9, "total": 2, "sequence": 1}, text="код 1234"))
rcpt = "id:0A1B2C3D sub:001 dlvrd:001 submit date:2611250101 done date:2611250102 stat:DELIVRD err:000 text:Your code"
add("handmade", "deliver_sm-receipt", "SMSC delivery receipt: text body plus receipted_message_id, message_state, network_error_code",
    pdu(DELIVER, sm_body(src="447700900123", src_ton=1, src_npi=1, dst="TrueOTP", dst_ton=5, dst_npi=0, esm=0x04, msg=rcpt.encode(),
                         tlvs=tlv(0x001E, c("0A1B2C3D")) + tlv(0x0427, b"\x02") + tlv(0x0423, b"\x03\x00\x00"))),
    ok("deliver_sm", esm_class=4, receipt={"id": "0A1B2C3D", "sub": "001", "dlvrd": "001", "submit_date": "2611250101",
                                           "done_date": "2611250102", "stat": "DELIVRD", "err": "000", "text": "Your code"}))
add("handmade", "deliver_sm-receipt-undeliverable", "receipt with stat:UNDELIV and keys in another case",
    pdu(DELIVER, sm_body(esm=0x04, msg=b"ID:77 SUB:001 DLVRD:000 SUBMIT DATE:2611250101 DONE DATE:2611250109 STAT:UNDELIV ERR:034 TEXT:")),
    ok("deliver_sm", receipt={"id": "77", "stat": "UNDELIV", "err": "034", "text": ""}))
add("handmade", "deliver_sm-vendor-tlv", "an unknown vendor TLV (0x1401) is kept and iterable",
    pdu(DELIVER, sm_body(msg=gsm7("x"), tlvs=tlv(0x1401, b"\xca\xfe") + tlv(0x0006, b"\x01"))),
    ok("deliver_sm", tlvs=[{"tag": "0x1401", "length": 2, "value": "cafe"},
                           {"tag": "0x0006", "name": "dest_network_type", "length": 1, "value": "01"}]))
add("handmade", "deliver_sm-duplicate-tlv", "the same TLV twice: both kept in wire order (documented: first wins for typed reads)",
    pdu(DELIVER, sm_body(msg=gsm7("x"), tlvs=tlv(0x000E, b"\x01") + tlv(0x000E, b"\x02"))),
    ok("deliver_sm", tlvs=[{"tag": "0x000e", "name": "source_network_type", "length": 1, "value": "01"},
                           {"tag": "0x000e", "name": "source_network_type", "length": 1, "value": "02"}]))
add("handmade", "deliver_sm-zero-length-tlv", "alert_on_message_delivery has length 0",
    pdu(DELIVER, sm_body(msg=gsm7("x"), tlvs=tlv(0x130C, b""))),
    ok("deliver_sm", tlvs=[{"tag": "0x130c", "name": "alert_on_message_delivery", "length": 0, "value": ""}]))
add("handmade", "deliver_sm-max-strings", "every C-string at its maximum length",
    pdu(DELIVER, sm_body(service="CMTXX", src="1" * 20, dst="2" * 20, sched="1" * 16, valid="2" * 16, msg=b"")),
    ok("deliver_sm", service_type="CMTXX", source_addr="1" * 20, destination_addr="2" * 20))
add("handmade", "deliver_sm-254-octets", "short_message of 254 octets (the spec maximum)",
    pdu(DELIVER, sm_body(dc=4, msg=bytes(range(254)))), ok("deliver_sm", sm_length=254))
# Streams.
s1 = pdu(0x15, seq=1) + pdu(DELIVER, sm_body(msg=gsm7("one")), seq=2) + pdu(0x80000015, seq=3)
add("handmade", "stream-three-pdus", "three PDUs in one read",
    s1, {"pdus": [{"command": "enquire_link"}, {"command": "deliver_sm", "text": "one"}, {"command": "enquire_link_resp"}], "end": "complete"})
add("handmade", "stream-partial-tail", "a PDU then the first 10 bytes of the next: wait for more",
    pdu(0x15, seq=1) + pdu(0x15, seq=2)[:10], {"pdus": [{"command": "enquire_link"}], "end": "incomplete"})

# ---------- malformed (each gets the right command_status) ----------
add("malformed", "command_length-too-small", "command_length 15: below the header, close the connection",
    struct.pack(">IIII", 15, 0x15, 0, 1), {"pdus": [], "end": "command_length_too_small"})
add("malformed", "command_length-zero", "command_length 0", struct.pack(">IIII", 0, 0x15, 0, 1), {"pdus": [], "end": "command_length_too_small"})
add("malformed", "command_length-too-large", "command_length 70000, over the 64 KiB default",
    struct.pack(">IIII", 70000, 0x05, 0, 1), {"pdus": [], "end": "command_length_too_large"})
add("malformed", "command_length-huge", "command_length 0xFFFFFFFF", struct.pack(">IIII", 0xFFFFFFFF, 0x05, 0, 1),
    {"pdus": [], "end": "command_length_too_large"})
add("malformed", "command_length-short-of-body", "command_length 3 bytes short of the body: the PDU ends inside sm_length, the rest misframes",
    pdu(DELIVER, sm_body(msg=b""), length=16 + len(sm_body(msg=b"")) - 3),
    {"pdus": [{"error": {"code": "truncated", "command_status_name": "ESME_RINVCMDLEN"}}], "end": "incomplete"})
add("malformed", "unknown-command-id", "command_id 0x00000099", pdu(0x99), err("unknown_command_id", 4, "ESME_RINVCMDID"))
add("malformed", "unknown-command-id-vendor", "command_id 0x00010200 (vendor range)", pdu(0x10200, b"\x01\x02"),
    err("unknown_command_id", 4, "ESME_RINVCMDID"))
add("malformed", "bind-missing-nul", "bind_transmitter whose system_id never ends", pdu(0x02, b"trueotp"),
    err("missing_nul", 16, "ESME_RINVCMDLEN"))
add("malformed", "bind-system_id-too-long", "system_id of 16 characters (max 15 + NUL)", pdu(0x02, c("A" * 16) + c("pw") + c("") + bytes([0x34, 0, 0]) + c("")),
    err("string_too_long", 16, "ESME_RINVSYSID"))
add("malformed", "bind-password-too-long", "password of 9 characters (max 8 + NUL)", pdu(0x02, c("sys") + c("P" * 9) + c("") + bytes([0x34, 0, 0]) + c("")),
    err("string_too_long", 20, "ESME_RINVPASWD"))
add("malformed", "bind-truncated-fixed-field", "bind_transmitter that ends before interface_version", pdu(0x02, c("sys") + c("pw") + c("")),
    err("truncated", 24, "ESME_RINVCMDLEN"))
add("malformed", "deliver_sm-source_addr-too-long", "source_addr of 21 digits (max 20 + NUL)",
    pdu(DELIVER, sm_body(src="1" * 21, msg=b"")), err("string_too_long", 19, "ESME_RINVSRCADR"))
add("malformed", "deliver_sm-destination_addr-too-long", "destination_addr of 25 digits",
    pdu(DELIVER, sm_body(src="A", dst="4" * 25, msg=b"")), err("string_too_long", 23, "ESME_RINVDSTADR"))
add("malformed", "deliver_sm-service_type-too-long", "service_type of 6 characters (max 5 + NUL)",
    pdu(DELIVER, sm_body(service="ABCDEF", msg=b"")), err("string_too_long", 16, "ESME_RINVSERTYP"))
add("malformed", "deliver_sm-validity-too-long", "validity_period of 17 characters",
    pdu(DELIVER, sm_body(src="A", dst="B", valid="1" * 17, msg=b"")), err("string_too_long", 29, "ESME_RINVEXPIRY"))
add("malformed", "deliver_sm-sm_length-overrun", "sm_length 200 with 5 octets left",
    pdu(DELIVER, sm_body(src="A", dst="B", msg=b"hello", smlen=200)), err("sm_length_overrun", 34, "ESME_RINVMSGLEN"))
add("malformed", "deliver_sm-missing-nul-at-end", "body ends inside destination_addr",
    pdu(DELIVER, c("") + bytes([1, 1]) + c("A") + bytes([1, 1]) + b"4477"), err("missing_nul", 23, "ESME_RINVCMDLEN"))
add("malformed", "deliver_sm-truncated-after-addr", "body ends right after destination_addr",
    pdu(DELIVER, c("") + bytes([1, 1]) + c("A") + bytes([1, 1]) + c("B")), err("truncated", 25, "ESME_RINVCMDLEN"))
add("malformed", "deliver_sm-tlv-overrun", "a TLV whose length runs past the PDU",
    pdu(DELIVER, sm_body(src="A", dst="B", msg=b"x", tlvs=struct.pack(">HH", 0x0424, 50) + b"abc")),
    err("tlv_overrun", 36, "ESME_RINVPARLEN"))
add("malformed", "deliver_sm-tlv-header-truncated", "two stray bytes where a TLV header should be",
    pdu(DELIVER, sm_body(src="A", dst="B", msg=b"x", tlvs=b"\x02\x0c")), err("tlv_header_truncated", 36, "ESME_RINVOPTPARSTREAM"))
add("malformed", "deliver_sm-tlv-bad-fixed-length", "sar_msg_ref_num with length 1 (must be 2)",
    pdu(DELIVER, sm_body(src="A", dst="B", msg=b"x", tlvs=tlv(0x020C, b"\x01"))), err("tlv_invalid_length", 36, "ESME_RINVPARLEN"))
add("malformed", "deliver_sm-sar-incomplete", "sar_msg_ref_num without sar_total_segments",
    pdu(DELIVER, sm_body(src="A", dst="B", msg=b"x", tlvs=tlv(0x020C, b"\x00\x01") + tlv(0x020F, b"\x01"))),
    err("missing_tlv", 36, "ESME_RMISSINGOPTPARAM"))
add("malformed", "data_sm-tlv-overrun", "data_sm with a message_payload that overruns",
    pdu(DATA, c("") + bytes([1, 1]) + c("A") + bytes([1, 1]) + c("B") + bytes([0, 0, 0]) + struct.pack(">HH", 0x0424, 9) + b"ab"),
    err("tlv_overrun", 28, "ESME_RINVPARLEN"))
add("malformed", "submit_multi-bad-dest-flag", "submit_multi with dest_flag 3",
    pdu(0x21, c("") + bytes([1, 1]) + c("A") + bytes([1, 3]) + c("B")), err("invalid_dest_flag", 22, "ESME_RINVDESTFLAG"))
add("malformed", "query_sm-message_id-too-long", "query_sm with a 70-character message_id",
    pdu(0x03, c("9" * 70) + bytes([1, 1]) + c("A")), err("string_too_long", 16, "ESME_RINVMSGID"))
add("malformed", "enquire_link-trailing-garbage", "enquire_link with 3 bytes of body: not a TLV",
    pdu(0x15, b"\x01\x02\x03"), err("tlv_header_truncated", 16, "ESME_RINVOPTPARSTREAM"))
add("malformed", "stream-good-bad-good", "a good PDU, a malformed one (framing intact), a good one: both good ones decode",
    pdu(0x15, seq=1) + pdu(DELIVER, sm_body(src="A", dst="B", msg=b"x", smlen=90), seq=2) + pdu(0x15, seq=3),
    {"pdus": [{"command": "enquire_link"}, {"error": {"code": "sm_length_overrun", "command_status_name": "ESME_RINVMSGLEN"}},
              {"command": "enquire_link", "sequence_number": 3}], "end": "complete"})

# ---------- carrier quirks: one carrier's settings, the PDU, what routing makes of it ----------
# "carrier" holds [[carrier]] keys (BridgeAppTests reads them through the config loader);
# "routing" is what the router must decide for the PDU on that carrier.
def quirk(name, desc, data, carrier, routing, expect, options=None):
    add("carrier-quirks", name, desc, data, expect, dict(options or {}, carrier=carrier, routing=routing))

latin = "Código: 482915".encode("latin-1")
quirk("default-alphabet-latin1", "data_coding 0 from a carrier whose SMSC default alphabet is Latin-1",
      pdu(DELIVER, sm_body(src="Banco", dst="447700900123", msg=latin)),
      {"default_alphabet": "latin1"}, {"text": "Código: 482915", "code": "482915", "text_invalid": False, "destination": "447700900123"},
      ok("deliver_sm", text="Código: 482915", encoding="latin1"), {"default_alphabet": "latin1"})
quirk("default-alphabet-latin1-read-as-gsm7", "the same PDU on a carrier left at the GSM default: the ó is not GSM 7-bit",
      pdu(DELIVER, sm_body(src="Banco", dst="447700900123", msg=latin)),
      {}, {"text_invalid": True, "destination": "447700900123"},
      ok("deliver_sm", encoding="gsm7"))
ia5 = "Code {739154} for Shop".encode("ascii")
quirk("default-alphabet-ia5", "data_coding 0 from an IA5 (ASCII) SMSC: braces are ASCII, not GSM's a-umlaut and a-grave",
      pdu(DELIVER, sm_body(src="Shop", dst="447700900124", msg=ia5)),
      {"default_alphabet": "ia5"}, {"text": "Code {739154} for Shop", "code": "739154", "destination": "447700900124"},
      ok("deliver_sm", text="Code {739154} for Shop", encoding="ia5"), {"default_alphabet": "ia5"})
packed = pack7(list(gsm7("Your code is 918273")))
quirk("default-alphabet-gsm7-packed", "data_coding 0 from an SMSC that passes GSM 7-bit packed, as on the air",
      pdu(DELIVER, sm_body(src="Bank", dst="447700900125", msg=packed)),
      {"default_alphabet": "gsm7-packed"}, {"text": "Your code is 918273", "code": "918273", "destination": "447700900125"},
      ok("deliver_sm", encoding="gsm7_packed"), {"default_alphabet": "gsm7-packed"})
quirk("unified-prefix-stray-trunk-zero", "a gateway that puts a trunk 0 before the country code (0447...), TON unknown: rewritten to 447...",
      pdu(DELIVER, sm_body(src="Google", dst="0447700900126", dst_ton=0, msg=gsm7("G-118822 is your code"))),
      {"unified_prefix": "44,0044,044"}, {"destination": "447700900126", "code": "G-118822"},
      ok("deliver_sm", destination_addr="0447700900126"))
quirk("unified-prefix-stray-trunk-zero-without-rule", "the same PDU on a carrier without the rule: the address is invalid (a leading zero)",
      pdu(DELIVER, sm_body(src="Google", dst="0447700900126", dst_ton=0, msg=gsm7("G-118822 is your code"))),
      {}, {"destination_invalid": "leading_zero"},
      ok("deliver_sm", destination_addr="0447700900126"))
quirk("unified-prefix-kannel-form", "Kannel's form on a German carrier: 0049 and 0 become +49, 00 becomes +; national TON digits with a 9 escape",
      pdu(DELIVER, sm_body(src="PayPal", dst="90151 12345678", dst_ton=0, msg=gsm7("PayPal: Your security code is 552211"))),
      {"number_plan": "DE", "unified_prefix": "+49,0049,90;+,900"}, {"destination": "4915112345678", "code": "552211"},
      ok("deliver_sm", destination_addr="90151 12345678"))

# ---------- tshark as an oracle ----------
def flatten(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k.startswith("smpp.") and not isinstance(v, dict):
                key = k[5:]
                if key in out:
                    out[key] = out[key] if isinstance(out[key], list) else [out[key]]
                    out[key].append(v)
                else:
                    out[key] = v
            flatten(v, out)
    elif isinstance(node, list):
        for v in node:
            flatten(v, out)

def merge_pairs(pairs):
    """tshark's JSON repeats a key for repeated fields (one opt_param_tag per TLV): keep them all."""
    out = {}
    for k, v in pairs:
        if k in out:
            out[k] = out[k] if isinstance(out[k], list) and k.startswith("smpp.") else [out[k]]
            out[k].append(v)
        else:
            out[k] = v
    return out

def tshark_decode(data):
    if not shutil.which("tshark"):
        return None
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "dump.txt"), "w") as f:
            for i in range(0, len(data), 16):
                f.write("%06x " % i + " ".join("%02x" % x for x in data[i:i + 16]) + "\n")
        subprocess.run(["text2pcap", "-q", "-T", "40000,2775", os.path.join(d, "dump.txt"), os.path.join(d, "x.pcap")],
                       check=True, capture_output=True)
        r = subprocess.run(["tshark", "-r", os.path.join(d, "x.pcap"), "-o", "tcp.desegment_tcp_streams:TRUE",
                            "-d", "tcp.port==2775,smpp", "-T", "json"], capture_output=True)
        packets = json.loads(r.stdout.decode("utf-8", "replace") or "[]", object_pairs_hook=merge_pairs)
    pdus, malformed = [], False
    for pkt in packets:
        layers = pkt["_source"]["layers"]
        malformed = malformed or "_ws.malformed" in layers
        smpp = layers.get("smpp")
        for s in (smpp if isinstance(smpp, list) else [smpp] if smpp else []):
            out = {}
            flatten(s, out)
            pdus.append(out)
    return {"pdus": pdus, "malformed": malformed}

def main():
    use_tshark = "--no-tshark" not in sys.argv
    for folder in ("handmade", "malformed", "carrier-quirks"):
        d = os.path.join(ROOT, folder)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.endswith(".json"):
                os.remove(os.path.join(d, f))
    for folder, name, desc, data, expect, options in cases:
        fx = {"name": name, "description": desc, "source": "handmade: protocol-fixtures/tools/make-fixtures.py",
              "hex": data.hex(),
              "valid": expect.get("end", "complete") == "complete" and not any("error" in p for p in expect.get("pdus", [])),
              "expect": expect}
        if options:
            fx["options"] = options
        if use_tshark:
            t = tshark_decode(data)
            if t is not None:
                fx["tshark"] = t
        with open(os.path.join(ROOT, folder, name + ".json"), "w") as f:
            json.dump(fx, f, indent=1, ensure_ascii=False)
            f.write("\n")
    print(f"wrote {len(cases)} fixtures ({sum(1 for c in cases if c[0] == 'malformed')} malformed)")

main()
