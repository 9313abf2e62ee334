/// Versioned SQL migrations, shipped in the binary. `Migrator.migrate` applies the
/// missing ones in order, each in its own transaction, under an advisory lock so
/// that two bridge instances starting together cannot race.
/// The schema is a contract with the storefront: see docs/storefront-contract.md.
public enum Migrations {
    public struct Migration: Sendable {
        public var version: Int
        public var name: String
        public var sql: String
        /// Work SQL cannot do, run in the migration's transaction after `sql`.
        public var after: (@Sendable (PostgresConnection, MigrationContext) throws -> Void)? = nil
    }

    /// What a migration's Swift step may depend on.
    public struct MigrationContext: Sendable {
        /// Stored keys younger than this still identify redeliveries (`DedupRekey`).
        public var dedupWindowSeconds: Int
        public init(dedupWindowSeconds: Int = BatchWriter.Config.defaultDedupWindowSeconds) {
            self.dedupWindowSeconds = dedupWindowSeconds
        }
    }

    public static let all: [Migration] = [
        Migration(version: 1, name: "leases, messages, parts, views", sql: """
            CREATE TABLE leases (
                order_id     bigint      PRIMARY KEY,
                msisdn       text        NOT NULL CHECK (msisdn ~ '^[1-9][0-9]{6,14}$'),
                service      text        NOT NULL DEFAULT '',
                status       text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended', 'cancelled')),
                starts_at    timestamptz NOT NULL,
                expires_at   timestamptz NOT NULL,
                version      integer     NOT NULL DEFAULT 1,
                updated_at   timestamptz NOT NULL DEFAULT now(),
                CHECK (expires_at > starts_at)
            );
            CREATE INDEX leases_msisdn_idx ON leases (msisdn, expires_at DESC);
            CREATE INDEX leases_active_idx ON leases (expires_at) WHERE status = 'active';

            CREATE FUNCTION bridge_leases_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE r leases;
            BEGIN
                IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
                PERFORM pg_notify('lease_changed', json_build_object(
                    'op', TG_OP, 'order_id', r.order_id, 'msisdn', r.msisdn, 'service', r.service,
                    'status', r.status, 'starts_at', floor(extract(epoch FROM r.starts_at))::bigint,
                    'expires_at', floor(extract(epoch FROM r.expires_at))::bigint, 'version', r.version,
                    'updated_at_ms', (extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text);
                RETURN NULL;
            END $$;
            CREATE TRIGGER leases_changed AFTER INSERT OR UPDATE OR DELETE ON leases
                FOR EACH ROW EXECUTE FUNCTION bridge_leases_notify();

            CREATE TABLE messages (
                id                     bigint GENERATED ALWAYS AS IDENTITY,
                received_at            timestamptz NOT NULL,
                committed_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
                carrier                text        NOT NULL,
                bind                   text        NOT NULL,
                source_addr            text        NOT NULL,
                source_ton             smallint    NOT NULL,
                source_normalized      text,
                destination_addr       text        NOT NULL,
                destination_ton        smallint    NOT NULL,
                destination_normalized text,
                order_id               bigint,
                lease_version          integer,
                service                text,
                outcome                text        NOT NULL CHECK (outcome IN ('routed', 'unmatched', 'expired', 'invalid')),
                service_mismatch       boolean     NOT NULL DEFAULT false,
                data_coding            smallint    NOT NULL,
                text                   text        NOT NULL,
                text_invalid           boolean     NOT NULL DEFAULT false,
                otp_code               text,
                otp_confidence         real,
                otp_rule               text,
                part_count             smallint    NOT NULL DEFAULT 1,
                missing_parts          smallint[]  NOT NULL DEFAULT '{}',
                dedup_key              text        NOT NULL,
                raw_pdus               bytea[]     NOT NULL,
                PRIMARY KEY (id, received_at)
            ) PARTITION BY RANGE (received_at);
            CREATE INDEX messages_order_idx ON messages (order_id, received_at DESC) WHERE order_id IS NOT NULL;
            CREATE INDEX messages_dedup_idx ON messages (dedup_key);

            -- Idempotency across partitions: one row per dedup key, kept as long as the message.
            CREATE TABLE message_dedup (
                dedup_key    text        PRIMARY KEY,
                received_at  timestamptz NOT NULL
            );
            CREATE INDEX message_dedup_received_idx ON message_dedup (received_at);

            -- Parts of multi-part messages still being reassembled (survive a restart).
            CREATE TABLE message_parts (
                dedup_key        text        PRIMARY KEY,
                carrier          text        NOT NULL,
                source_addr      text        NOT NULL,
                destination_addr text        NOT NULL,
                reference        integer     NOT NULL,
                reference_bits   smallint    NOT NULL,
                total            smallint    NOT NULL,
                sequence         smallint    NOT NULL,
                data_coding      smallint    NOT NULL,
                body             bytea       NOT NULL,
                locking_shift    smallint,
                single_shift     smallint,
                raw_pdu          bytea       NOT NULL,
                received_at      timestamptz NOT NULL,
                message_dedup_key text
            );
            CREATE INDEX message_parts_pending_idx ON message_parts (received_at) WHERE message_dedup_key IS NULL;

            CREATE VIEW otp_codes AS
                SELECT order_id, service, otp_code, otp_confidence, received_at, committed_at, id AS message_id
                FROM messages WHERE outcome = 'routed' AND otp_code IS NOT NULL;

            -- Monthly partitions, created ahead of need by the bridge.
            CREATE FUNCTION bridge_ensure_month(t timestamptz) RETURNS text LANGUAGE plpgsql AS $$
            DECLARE m date := date_trunc('month', t AT TIME ZONE 'UTC')::date;
                    name text := format('messages_%s', to_char(m, 'YYYY_MM'));
            BEGIN
                IF to_regclass(name) IS NULL THEN
                    EXECUTE format('CREATE TABLE %I PARTITION OF messages FOR VALUES FROM (%L) TO (%L)',
                                   name, m::timestamptz AT TIME ZONE 'UTC', (m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
                END IF;
                RETURN name;
            END $$;
            """),
        // 128-bit dedup keys as uuid: 16 bytes compared with memcmp, instead of 32-digit
        // text compared through the database's collation on every index step (the
        // write path's hottest comparison).
        Migration(version: 2, name: "dedup keys as uuid", sql: """
            DROP VIEW otp_codes;
            ALTER TABLE message_dedup ALTER COLUMN dedup_key TYPE uuid USING dedup_key::uuid;
            ALTER TABLE messages ALTER COLUMN dedup_key TYPE uuid USING dedup_key::uuid;
            ALTER TABLE message_parts ALTER COLUMN dedup_key TYPE uuid USING dedup_key::uuid,
                                      ALTER COLUMN message_dedup_key TYPE uuid USING message_dedup_key::uuid;
            CREATE VIEW otp_codes AS
                SELECT order_id, service, otp_code, otp_confidence, received_at, committed_at, id AS message_id
                FROM messages WHERE outcome = 'routed' AND otp_code IS NOT NULL;
            -- The least-privilege bridge role cannot CREATE: month partitions are made
            -- with the schema owner's rights, by this one function only.
            ALTER FUNCTION bridge_ensure_month(timestamptz) SECURITY DEFINER SET search_path = public, pg_temp;
            REVOKE ALL ON FUNCTION bridge_ensure_month(timestamptz) FROM PUBLIC;
            """),
        // Bridges sharing a database look up each other's parts of one message.
        Migration(version: 3, name: "parts by message", sql: """
            CREATE INDEX message_parts_message_idx ON message_parts (destination_addr, reference, carrier, source_addr, total, reference_bits);
            """),
        // The message's id beside its dedup key, so that the one index on a message's key
        // is message_dedup's primary key: a second index of random uuids on messages was
        // costly on every insert and served only the lookup from a PDU to its stored
        // message, which (dedup_key → message_id, received_at → the messages primary
        // key, one partition) answers as well. The writer takes the id from the messages
        // sequence as it inserts the dedup row.
        Migration(version: 4, name: "message id in message_dedup", sql: """
            ALTER TABLE message_dedup ADD COLUMN message_id bigint;
            UPDATE message_dedup d SET message_id = m.id FROM messages m
                WHERE m.dedup_key = d.dedup_key AND m.received_at = d.received_at;
            DROP INDEX messages_dedup_idx;
            """),
        // Only a pending part is looked up by its message (`PartStore.parts`): a consumed
        // one is looked up by its own key, the primary key. Nearly every part row is
        // inserted consumed (its message completes in the same batch), so the index on
        // six columns, three of them text, was maintained for rows nothing read that way.
        // The build reads the table once and indexes the pending rows only.
        Migration(version: 5, name: "parts by message, pending only", sql: """
            DROP INDEX message_parts_message_idx;
            CREATE INDEX message_parts_message_idx ON message_parts (destination_addr, reference, carrier, source_addr, total, reference_bits)
                WHERE message_dedup_key IS NULL;
            """),
        // Retention is the only reader of these timestamps, once a day, for rows months
        // old; both tables are appended to in about received_at order. A BRIN index
        // (a min/max per 128 pages) answers that as well as a B-tree, and an insert only
        // looks at its range map: no index entry and no WAL record per row, which the
        // B-tree on message_dedup took per message. message_parts had no index for it,
        // so retention read all of it.
        Migration(version: 6, name: "retention by BRIN", sql: """
            DROP INDEX message_dedup_received_idx;
            CREATE INDEX message_dedup_received_idx ON message_dedup USING brin (received_at) WITH (autosummarize = on);
            CREATE INDEX message_parts_received_idx ON message_parts USING brin (received_at) WITH (autosummarize = on);
            """),
        // The message's whole life and storefront contract v1 (docs/storefront-contract.md):
        // redeliveries recorded on the stored message, receipts and malformed PDUs kept
        // with their own fields, late matches marked, a commit cursor for catch-up reads,
        // a versioned view and a reader role. Every column is added without a volatile
        // default, so no partition is rewritten; `commit_txid` gets its default after.
        Migration(version: 7, name: "message life, receipts, storefront v1", sql: """
            ALTER TABLE messages
                ADD COLUMN redelivery_count    integer NOT NULL DEFAULT 0,
                ADD COLUMN last_redelivered_at timestamptz,
                ADD COLUMN late_matched_at     timestamptz,
                ADD COLUMN invalid_reason      text,
                ADD COLUMN receipt_message_id  text,
                ADD COLUMN receipt_stat        text,
                ADD COLUMN receipt_err         text,
                ADD COLUMN commit_txid         bigint;
            ALTER TABLE messages ALTER COLUMN commit_txid SET DEFAULT txid_current();
            ALTER TABLE messages DROP CONSTRAINT messages_outcome_check;
            ALTER TABLE messages ADD CONSTRAINT messages_outcome_check
                CHECK (outcome IN ('routed', 'unmatched', 'expired', 'invalid', 'receipt'));
            -- Late matching looks up a number's recent unmatched messages; only those rows are indexed.
            CREATE INDEX messages_unmatched_idx ON messages (destination_normalized, received_at) WHERE outcome = 'unmatched';
            -- The catch-up cursor: appended in about txid order, so a BRIN range map serves it.
            CREATE INDEX messages_commit_txid_idx ON messages USING brin (commit_txid) WITH (autosummarize = on);

            CREATE VIEW storefront_v1_messages AS
                SELECT id AS message_id, received_at, committed_at, commit_txid, carrier,
                       source_addr AS sender, destination_normalized AS msisdn, order_id, lease_version, service,
                       outcome, service_mismatch, text, text_invalid, otp_code, otp_confidence, part_count, missing_parts,
                       redelivery_count, last_redelivered_at, late_matched_at
                FROM messages WHERE outcome IN ('routed', 'expired');

            -- The storefront's read-only role. Creating a role needs CREATEROLE; a schema
            -- owner without it gets a warning and the role is left to the DBA (the GRANTs
            -- below are in docs/storefront-contract.md).
            DO $$
            BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'smpp_storefront_reader') THEN
                    BEGIN
                        CREATE ROLE smpp_storefront_reader NOLOGIN;
                    EXCEPTION WHEN insufficient_privilege THEN
                        RAISE WARNING 'smpp_storefront_reader not created (no CREATEROLE): create it and grant as documented';
                    END;
                END IF;
                IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'smpp_storefront_reader') THEN
                    EXECUTE format('GRANT USAGE ON SCHEMA %I TO smpp_storefront_reader', current_schema());
                    GRANT SELECT ON storefront_v1_messages, otp_codes TO smpp_storefront_reader;
                END IF;
            END $$;
            """, after: { db, context in try DedupRekey.run(db, windowSeconds: context.dedupWindowSeconds) }),
    ]
}

/// Applies migrations.
public enum Migrator {
    /// An arbitrary, fixed advisory lock id ("smpp" in ASCII).
    static let lockID = 0x736D_7070

    /// Applies what is missing; returns the versions applied now. Idempotent.
    @discardableResult
    public static func migrate(_ db: PostgresConnection, now: String = "now()", context: Migrations.MigrationContext = .init()) throws -> [Int] {
        _ = try db.execute("SELECT pg_advisory_lock($1)", [.text(String(lockID))])
        defer { _ = try? db.execute("SELECT pg_advisory_unlock($1)", [.text(String(lockID))]) }
        try db.execute("""
            CREATE TABLE IF NOT EXISTS bridge_schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """)
        let done = Set(try db.execute("SELECT version FROM bridge_schema_migrations").rows.compactMap { $0[0].flatMap { Int($0) } })
        var applied: [Int] = []
        for m in Migrations.all where !done.contains(m.version) {
            try db.execute("BEGIN")
            do {
                try db.executeScript(m.sql)
                try m.after?(db, context)
                try db.execute("INSERT INTO bridge_schema_migrations (version, name) VALUES ($1, $2)", [.text(String(m.version)), .text(m.name)])
                try db.execute("COMMIT")
            } catch {
                _ = try? db.execute("ROLLBACK")
                throw error
            }
            applied.append(m.version)
        }
        // Partitions for last month, this month and the next two.
        try db.execute("SELECT bridge_ensure_month(\(now) + make_interval(months => g)) FROM generate_series(-1, 2) AS g")
        return applied
    }

    /// The versions present, for the start-up check ("migrate check").
    public static func pending(_ db: PostgresConnection) throws -> [Int] {
        let exists = try db.execute("SELECT to_regclass('bridge_schema_migrations') IS NOT NULL").rows.first?.first ?? nil
        guard exists == "t" else { return Migrations.all.map(\.version) }
        let done = Set(try db.execute("SELECT version FROM bridge_schema_migrations").rows.compactMap { $0[0].flatMap { Int($0) } })
        return Migrations.all.map(\.version).filter { !done.contains($0) }
    }

    /// What retention removes (or, in a dry run, would remove).
    public struct RetentionResult: Sendable, Equatable {
        public var partitions: [String] = []
        public var dedupRows = 0
        public var partRows = 0
    }

    /// Drops whole monthly partitions that end before `olderThanDays` ago, and the
    /// dedup keys and part rows as old. Never touches the current data. A partition is
    /// first detached with `DETACH PARTITION … CONCURRENTLY` (no lock that stops the
    /// writer's inserts into the parent), then `archive` runs on it (e.g. pg_dump, where
    /// the law wants the evidence kept), and only if that succeeds it is dropped; a
    /// failed archive leaves it detached and stops. `dryRun` changes nothing and says
    /// what would go.
    public static func retention(_ db: PostgresConnection, olderThanDays days: Int, dryRun: Bool = false,
                                 archive: (String) throws -> Void = { _ in }) throws -> RetentionResult {
        var result = RetentionResult()
        // A DETACH CONCURRENTLY interrupted earlier (a killed run) left its partition half
        // detached: finish it first, or no partition can be attached or detached again.
        for row in try db.execute("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'messages'::regclass AND i.inhdetachpending
            """).rows where !dryRun {
            if let name = row[0] { try db.execute("ALTER TABLE messages DETACH PARTITION \(name) FINALIZE") }
        }
        let parts = try db.execute("""
            SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'messages'::regclass ORDER BY c.relname
            """).rows
        for row in parts {
            guard let name = row[0], let bound = row[1] else { continue }
            // "FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')"
            let pieces = bound.split(separator: "'", omittingEmptySubsequences: false)
            guard pieces.count >= 4 else { continue }
            let upper = String(pieces[3])
            let old = try db.execute("SELECT $1::timestamptz <= now() - make_interval(days => $2::int)", [.text(upper), .text(String(days))]).rows.first?.first ?? nil
            guard old == "t" else { continue }
            result.partitions.append(name)
            if dryRun { continue }
            try db.execute("ALTER TABLE messages DETACH PARTITION \(name) CONCURRENTLY")
            try archive(name)
            try db.execute("DROP TABLE \(name)")
        }
        // Partitions detached by an earlier run whose archive failed: archived and dropped now.
        for row in try db.execute("""
            SELECT c.relname AS name FROM pg_class c
            WHERE c.relkind = 'r' AND c.relname ~ '^messages_[0-9]{4}_[0-9]{2}$' AND NOT c.relispartition
              AND to_date(substr(c.relname, 10), 'YYYY_MM') + interval '1 month' <= now() - make_interval(days => $1::int)
            ORDER BY c.relname
            """, [.text(String(days))]).rows {
            guard let name = row[0] else { continue }
            result.partitions.append(name)
            if dryRun { continue }
            try archive(name)
            try db.execute("DROP TABLE \(name)")
        }
        let age = [PostgresValue.text(String(days))]
        if dryRun {
            result.dedupRows = Int(try db.execute("SELECT count(*) AS n FROM message_dedup WHERE received_at < now() - make_interval(days => $1::int)", age)[firstRow: "n"] ?? "0") ?? 0
            result.partRows = Int(try db.execute("SELECT count(*) AS n FROM message_parts WHERE received_at < now() - make_interval(days => $1::int)", age)[firstRow: "n"] ?? "0") ?? 0
            return result
        }
        result.dedupRows = try db.execute("DELETE FROM message_dedup WHERE received_at < now() - make_interval(days => $1::int)", age).affected
        // Part rows that old are either consumed (their PDUs are in the message's
        // raw_pdus) or long given up on: without this the table only ever grows.
        result.partRows = try db.execute("DELETE FROM message_parts WHERE received_at < now() - make_interval(days => $1::int)", age).affected
        return result
    }
}
