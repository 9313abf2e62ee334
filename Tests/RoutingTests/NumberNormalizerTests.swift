import Routing
import SMPPWire
import XCTest

final class NumberNormalizerTests: XCTestCase {
    /// (ton, address, plan, expected) — real formats from several countries.
    let table: [(TON, String, NumberPlan, NormalizedAddress)] = [
        // United Kingdom
        (.international, "447700900123", .uk, .msisdn("447700900123")),
        (.international, "+44 7700 900123", .uk, .msisdn("447700900123")),
        (.international, "00447700900123", .uk, .msisdn("447700900123")),
        (.national, "07700900123", .uk, .msisdn("447700900123")),
        (.national, "07700 900 123", .uk, .msisdn("447700900123")),
        (.unknown, "07700900123", .uk, .msisdn("447700900123")),
        (.unknown, "447700900123", .uk, .msisdn("447700900123")),
        (.unknown, "+447700900123", .uk, .msisdn("447700900123")),
        // Russia: trunk 8, international prefix 810
        (.national, "8 916 123-45-67", .russia, .msisdn("79161234567")),
        (.unknown, "89161234567", .russia, .msisdn("79161234567")),
        (.unknown, "79161234567", .russia, .msisdn("79161234567")),
        (.international, "+7 (916) 123-45-67", .russia, .msisdn("79161234567")),
        (.unknown, "81044207946000", .russia, .msisdn("44207946000")),
        // A Chinese number on a Russian link with TON 0 starts with 8 but has no Russian shape.
        (.unknown, "8613800138000", .russia, .msisdn("8613800138000")),
        // Germany
        (.national, "0151 12345678", .germany, .msisdn("4915112345678")),
        (.international, "4915112345678", .germany, .msisdn("4915112345678")),
        // USA: NANP trunk 1, international prefix 011
        (.national, "(415) 555-0123", .usa, .msisdn("14155550123")),
        (.national, "1-415-555-0123", .usa, .msisdn("14155550123")),
        (.international, "+1 415 555 0123", .usa, .msisdn("14155550123")),
        (.unknown, "011447700900123", .usa, .msisdn("447700900123")),
        // Brazil (11-digit mobiles)
        (.national, "011 99876-5432", .brazil, .msisdn("5511998765432")),
        (.international, "5511998765432", .brazil, .msisdn("5511998765432")),
        // India
        (.national, "098765 43210", .india, .msisdn("919876543210")),
        (.international, "+91 98765 43210", .india, .msisdn("919876543210")),
        // UAE
        (.national, "050 123 4567", .uae, .msisdn("971501234567")),
        // China: no trunk prefix on mobiles
        (.national, "138 0013 8000", .china, .msisdn("8613800138000")),
        // Alphanumeric senders
        (.alphanumeric, "WhatsApp", .uk, .alphanumeric("WhatsApp")),
        (.alphanumeric, " Google ", .uk, .alphanumeric("Google")),
        (.unknown, "Telegram", .uk, .alphanumeric("Telegram")),
        (.unknown, "BANK-XYZ", .uk, .alphanumeric("BANK-XYZ")),
        // Short codes
        (.unknown, "32665", .usa, .shortCode("32665")),
        (.networkSpecific, "900", .russia, .shortCode("900")),
        (.abbreviated, "1234", .uk, .shortCode("1234")),
        // Garbage is invalid, never guessed
        (.international, "", .uk, .invalid(.empty)),
        (.international, "   ", .uk, .invalid(.empty)),
        (.international, "44770090O123", .uk, .invalid(.nonDigit)),
        (.national, "0770-CALL-NOW", .uk, .invalid(.nonDigit)),
        (.international, "4477009001234567890", .uk, .invalid(.tooLong)),
        (.international, "44770", .uk, .invalid(.tooShort)),
        (.international, "07700900123", .uk, .invalid(.leadingZero)),
        (.international, "44+7700900123", .uk, .invalid(.misplacedPlus)),
        (.unknown, "+Google", .uk, .invalid(.nonDigit)),
        (.national, "0770090", .uk, .invalid(.tooShort)),
        (.national, "077009001234567", .uk, .invalid(.tooLong)),
        (.networkSpecific, "1234567890", .uk, .invalid(.tooLong)),
    ]

    func testTable() {
        for (ton, address, plan, expected) in table {
            XCTAssertEqual(NumberNormalizer.normalize(ton: ton, npi: .isdn, address: address, plan: plan), expected, "\(ton.name ?? "?") '\(address)'")
        }
    }

    func testZeroCopyFastPathAgrees() {
        for (ton, address, plan, expected) in table {
            let got = Array(address.utf8).withUnsafeBytes { NumberNormalizer.normalize(ton: ton, npi: .isdn, address: $0, plan: plan) }
            XCTAssertEqual(got, expected, address)
        }
    }
}
