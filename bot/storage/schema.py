"""The sqlite schema as a list of migrations, applied in order by `PRAGMA user_version`."""

# Each entry upgrades the schema by one version; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        language TEXT,
        first_seen REAL NOT NULL,
        screen TEXT,
        menu_message_id INTEGER
    );
    CREATE TABLE quotes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(id),
        country_id INTEGER NOT NULL,
        country_title TEXT NOT NULL,
        country_iso TEXT,
        application_id INTEGER NOT NULL,
        app_title TEXT NOT NULL,
        price TEXT NOT NULL,
        currency TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE orders (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        quote_id INTEGER NOT NULL UNIQUE REFERENCES quotes(id),
        user_id INTEGER NOT NULL REFERENCES users(id),
        chat_id INTEGER NOT NULL,
        card_message_id INTEGER,
        country_id INTEGER NOT NULL,
        country_title TEXT NOT NULL,
        country_iso TEXT,
        application_id INTEGER NOT NULL,
        app_title TEXT NOT NULL,
        number TEXT,
        price TEXT NOT NULL,
        currency TEXT NOT NULL,
        request_id INTEGER UNIQUE,
        status TEXT NOT NULL,
        failure TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        deadline REAL
    );
    CREATE INDEX orders_by_status ON orders(status);
    CREATE INDEX orders_by_user ON orders(user_id, id);
    CREATE TABLE access (
        user_id INTEGER PRIMARY KEY,
        allowed INTEGER NOT NULL,
        actor_id INTEGER NOT NULL,
        changed_at REAL NOT NULL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        actor_id INTEGER NOT NULL,
        action TEXT NOT NULL,
        target_id INTEGER,
        at REAL NOT NULL
    );
    CREATE TABLE codes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id INTEGER NOT NULL REFERENCES orders(id),
        code TEXT NOT NULL,
        received_at REAL NOT NULL,
        delivered_at REAL,
        delivery_error TEXT,
        UNIQUE(order_id, code)
    );
    """,
    """
    ALTER TABLE orders ADD COLUMN retry_of INTEGER REFERENCES orders(id);
    CREATE UNIQUE INDEX orders_by_retry ON orders(retry_of);
    ALTER TABLE orders ADD COLUMN delivery_note TEXT;
    """,
    """
    CREATE TABLE saved_pairs (
        user_id INTEGER NOT NULL REFERENCES users(id),
        country_id INTEGER NOT NULL,
        application_id INTEGER NOT NULL,
        country_title TEXT NOT NULL,
        country_iso TEXT,
        app_title TEXT NOT NULL,
        saved_at REAL NOT NULL,
        PRIMARY KEY (user_id, country_id, application_id)
    );
    CREATE INDEX orders_by_time ON orders(created_at);
    """,
    """
    CREATE TABLE ledger (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        amount TEXT NOT NULL,
        stars INTEGER,
        pending INTEGER NOT NULL DEFAULT 0,
        actor_id INTEGER,
        reason TEXT,
        created_at REAL NOT NULL,
        UNIQUE (kind, key)
    );
    CREATE INDEX ledger_by_user ON ledger(user_id, id);
    CREATE TABLE wallets (
        user_id INTEGER PRIMARY KEY,
        balance TEXT NOT NULL
    );
    """,
    """
    ALTER TABLE orders ADD COLUMN paid TEXT;
    """,
    """
    CREATE TABLE health (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        checked_at REAL NOT NULL
    );
    """,
    """
    CREATE TABLE blocked (
        user_id INTEGER PRIMARY KEY,
        actor_id INTEGER NOT NULL,
        blocked_at REAL NOT NULL
    );
    CREATE TABLE bookmarks (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE INDEX quotes_by_time ON quotes(created_at);
    """,
    """
    CREATE TRIGGER ledger_never_updated BEFORE UPDATE ON ledger
    BEGIN
        SELECT RAISE(ABORT, 'the ledger is append-only');
    END;
    CREATE TRIGGER ledger_never_deleted BEFORE DELETE ON ledger
    BEGIN
        SELECT RAISE(ABORT, 'the ledger is append-only');
    END;
    """,
)
