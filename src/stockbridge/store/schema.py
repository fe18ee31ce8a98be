"""The hub's tables (SQLAlchemy Core). Alembic migrations must match this: a test compares them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# Every inbound signal (webhook, poll result, snapshot page), stored before it is acknowledged.
inbox = Table(
    "inbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),  # InboxState
    Column("processed_at", DateTime(timezone=True)),
    Column("error", Text),
    UniqueConstraint("source", "event_id", name="uq_inbox_source_event"),
)
Index("ix_inbox_state_id", inbox.c.state, inbox.c.id)

# Observed warehouse stock per (SKU, warehouse, status), folded by the warehouse's movement sequence.
observed_stock = Table(
    "observed_stock",
    metadata,
    Column("sku", String(100), primary_key=True),
    Column("warehouse_id", String(64), primary_key=True),
    Column("status", String(32), primary_key=True),
    Column("quantity", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("occurred_at", DateTime(timezone=True)),
)

# Desired vs pushed figure per (channel, SKU, location). Dirty while they differ.
targets = Table(
    "targets",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("sku", String(100), primary_key=True),
    Column("location", String(64), primary_key=True),
    Column("warehouse_id", String(64), nullable=False),
    Column("desired", BigInteger, nullable=False),
    Column("desired_version", BigInteger, nullable=False),
    Column("source_occurred_at", DateTime(timezone=True)),
    Column("pushed", BigInteger),
    Column("pushed_version", BigInteger),
    Column("pushed_at", DateTime(timezone=True)),
    Column("dirty", Boolean, nullable=False),
    Column("dirty_since", DateTime(timezone=True)),  # when desired last left pushed: the coalescing clock
    Column("state", String(16), nullable=False),  # TargetState
    Column("priority", Integer, nullable=False),
    Column("movements_since_push", Integer, nullable=False),
    Column("batch_id", String(100)),
    Column("lease_owner", String(100)),
    Column("lease_until", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
# In the order a pusher claims them (`targets_repo.claim_dirty`): a claim reads its LIMIT, not the band.
Index(
    "ix_targets_dirty",
    targets.c.channel,
    targets.c.dirty,
    targets.c.state,
    targets.c.priority,
    targets.c.updated_at,
)

# Outbound calls written before they are made (transactional outbox). The id is the external id at
# the far end, so a retry after a crash or a timeout replaces rather than repeats.
push_batches = Table(
    "push_batches",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("location", String(64), nullable=False),
    Column("lines", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # BatchState
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    # First failure of the current run of attempts: the retry window counts from it; replay clears it.
    Column("failing_since", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("sent_by", String(100)),
)
Index("ix_push_batches_state", push_batches.c.state, push_batches.c.next_attempt_at)

# The IMS's item list as last read: SKU -> internal id and active flag.
ims_items = Table(
    "ims_items",
    metadata,
    Column("sku", String(100), primary_key=True),
    Column("item_id", String(32), nullable=False),
    Column("is_inactive", Boolean, nullable=False),
    Column("last_modified", String(40)),
    Column("item_type", String(16), nullable=False, server_default="InvtPart"),  # InvtPart | Kit
)

# Problems an owner must see (DESIGN.md section 4).
exceptions = Table(
    "exceptions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("type", String(64), nullable=False),
    Column("entity", String(200), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # ExceptionState
    Column("detail", Text, nullable=False),
    Column("retry_action", String(200)),
    Column("count", Integer, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    # The current episode: raised after being resolved starts the next one (its alerts start over).
    Column("episode", Integer, nullable=False, server_default="1"),
    Column("opened_at", DateTime(timezone=True), nullable=False),  # when this episode began
    Column("episode_count", Integer, nullable=False, server_default="1"),  # raises in this episode
    UniqueConstraint("type", "entity", name="uq_exceptions_type_entity"),
)
Index("ix_exceptions_state", exceptions.c.state, exceptions.c.owner)

# Each stretch of time one (channel, SKU, location) showed a figure other than the warehouse's, over
# its tolerance, as the drift check saw it (monitor/drift.py): open while `cleared_at` is null. Kept
# after it clears, so a report can say for how long each SKU differed and why.
drift_episodes = Table(
    "drift_episodes",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("sku", String(100), nullable=False),
    Column("location", String(64), nullable=False),
    Column("cause", String(32), nullable=False),  # domain.drift.Cause, as last seen
    Column("shown", BigInteger, nullable=False),
    Column("pushed", BigInteger, nullable=False),
    Column("expected", BigInteger, nullable=False),
    Column("units", BigInteger, nullable=False),  # |shown - expected| when last seen
    Column("max_units", BigInteger, nullable=False),
    Column("repairs", Integer, nullable=False),  # times the check marked the target dirty
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("raised_at", DateTime(timezone=True)),  # past the grace time: an exception
    Column("escalated_at", DateTime(timezone=True)),  # repairs did not clear it: drift_unrepaired
    Column("cleared_at", DateTime(timezone=True)),
)
Index(
    "ix_drift_episodes_key",
    drift_episodes.c.channel,
    drift_episodes.c.cleared_at,
    drift_episodes.c.sku,
    drift_episodes.c.location,
)
Index("ix_drift_episodes_first_seen", drift_episodes.c.first_seen)

# Movement (WMS occurred_at) -> acknowledgement by the channel, one row per pushed line.
latency_samples = Table(
    "latency_samples",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("sku", String(100), nullable=False),
    Column("location", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("acked_at", DateTime(timezone=True), nullable=False),
    Column("latency_ms", Integer, nullable=False),
)
Index("ix_latency_acked", latency_samples.c.channel, latency_samples.c.acked_at)

# The same latencies as a histogram that only grows (decision 0026): samples and their sum per channel
# and bucket (`le_ms`: the bucket's upper bound in ms, "+Inf" for the last), added to in the
# transaction that records the samples, so every process's /metrics reads one set of counts and
# pruning old samples never makes a count go down.
latency_buckets = Table(
    "latency_buckets",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("le_ms", String(16), primary_key=True),
    Column("samples", BigInteger, nullable=False),
    Column("sum_ms", BigInteger, nullable=False),
)

# Monotonic counters (events received, duplicates ignored, pushes...) and poll cursors.
counters = Table(
    "counters",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
cursors = Table(
    "cursors",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

# --- sales velocity (domain/velocity.py, decision 0033) --------------------------------------------

# Each folded movement that was a sale (a despatch), kept for velocity.window_s: keyed by the
# warehouse's event id, so a movement folded twice counts once.
sales = Table(
    "sales",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("sku", String(100), nullable=False),
    Column("warehouse_id", String(64), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
)
Index("ix_sales_occurred", sales.c.occurred_at)

# Each SKU's velocity class as last classified (no row, or a null class: below every class).
velocity_classes = Table(
    "velocity_classes",
    metadata,
    Column("sku", String(100), primary_key=True),
    Column("velocity_class", String(32)),
    Column("units_sold", BigInteger, nullable=False),  # over the window, when last classified
    Column("classified_at", DateTime(timezone=True), nullable=False),  # when either last changed
)

# --- orders ---------------------------------------------------------------------------------------

# Each IMS sales order as the hub holds it: its newest IMS version, its state, and what the warehouse
# holds (the WmsOrder last acknowledged), so an edit is a diff and a retry is a no-op.
sales_orders = Table(
    "sales_orders",
    metadata,
    # The IMS's internal id; a storefront order sent straight to Clarus: "<channel>:<storefront id>".
    Column("ims_id", String(120), primary_key=True),
    Column("reference", String(64), nullable=False, unique=True),
    Column("channel", String(32), nullable=False, server_default="ims"),  # where the order came from
    Column("ims_version", String(80), nullable=False),  # lastModifiedDate + content hash
    Column("ims_order", JSON, nullable=False),
    Column("state", String(20), nullable=False),  # domain.order_state.OrderState
    Column("holds", JSON, nullable=False),
    Column("sent", JSON),
    Column("wms_status", String(32)),
    Column("wms_sequence", BigInteger),
    Column("state_since", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_sales_orders_state", sales_orders.c.state, sales_orders.c.state_since)

# Units each order claims at the warehouse before it is allocated (domain/demand.py, decision 0022):
# rewritten with the order whenever its claim changes; summed per (SKU, warehouse) for storefronts.
order_claims = Table(
    "order_claims",
    metadata,
    Column("ims_id", String(32), primary_key=True),
    Column("sku", String(100), primary_key=True),
    Column("warehouse_id", String(64), primary_key=True),
    Column("quantity", BigInteger, nullable=False),
)
Index("ix_order_claims_sku", order_claims.c.sku, order_claims.c.warehouse_id)

# Commands for the warehouse, written with the transition that causes them (transactional outbox).
order_commands = Table(
    "order_commands",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("ims_id", String(120), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # domain.order_state.CommandKind
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # BatchState: pending, sent, dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    # First failure of the current run of attempts: the retry window counts from it; replay clears it.
    Column("failing_since", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),
)
Index("ix_order_commands_due", order_commands.c.state, order_commands.c.next_attempt_at)

# Storefront orders routed through the IMS (orders_route: ims): the newest version the hub holds of
# each, and the IMS sales order made from it (created and kept up to date by the command outbox below).
storefront_orders = Table(
    "storefront_orders",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("order_id", String(120), primary_key=True),  # the storefront's id (gid://shopify/Order/...)
    Column("reference", String(64), nullable=False),  # its tranId in the IMS (prefix + order number)
    Column("version", String(80), nullable=False),  # updated_at + content hash
    Column("storefront_order", JSON, nullable=False),
    Column("state", String(20), nullable=False),  # waiting, held, pending, synced, cancelled
    Column("holds", JSON, nullable=False),
    Column("ims_id", String(32)),  # the IMS sales order, once created
    Column("ims_lines", JSON, nullable=False),  # storefront line item id -> the IMS order's line number
    Column("synced_version", String(80)),  # the version the IMS order was last made to match
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Commands for the IMS: make the sales order match the storefront order's newest version.
storefront_order_commands = Table(
    "storefront_order_commands",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("order_id", String(120), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # BatchState: pending, sent, dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("failing_since", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),
)
Index(
    "ix_storefront_order_commands_due",
    storefront_order_commands.c.state,
    storefront_order_commands.c.next_attempt_at,
)

# The warehouse's item list as last read or written by the product master sync.
wms_items = Table(
    "wms_items",
    metadata,
    Column("sku", String(100), primary_key=True),
    Column("active", Boolean, nullable=False),
    Column("source_sku", String(100)),  # the IMS SKU it was synced from
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The product master sync's working list, one run's rows at a time: each physical IMS item and the
# warehouse SKU it becomes, written a page at a time as the IMS list is read, so collisions and the
# items to put are found in SQL a page at a time instead of in lists of the whole catalogue
# (docs/decisions/0044). A run deletes its rows when it ends; a crashed run's are deleted a day on.
product_sync_items = Table(
    "product_sync_items",
    metadata,
    Column("run", String(32), primary_key=True),
    Column("ims_sku", String(100), primary_key=True),
    Column("wms_sku", Text, nullable=False),  # normalised; the warehouse may refuse it (problem)
    Column("active", Boolean, nullable=False),
    Column("problem", Text),  # why the warehouse would refuse wms_sku, or NULL
    Column("collided", Boolean, nullable=False),  # another IMS SKU of the run becomes wms_sku too
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_product_sync_items_wms_sku", product_sync_items.c.run, product_sync_items.c.wms_sku)

# IMS kit (bundle) members, replaced whole on each product read.
kit_members = Table(
    "kit_members",
    metadata,
    Column("kit_sku", String(100), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("member_sku", String(100), nullable=False),
    Column("quantity", Integer, nullable=False),
)

# --- fulfilment -----------------------------------------------------------------------------------

# Each warehouse shipment, folded once by shipment id, with its life in the hub.
shipments = Table(
    "shipments",
    metadata,
    Column("shipment_id", String(100), primary_key=True),
    Column("reference", String(64), nullable=False),
    Column("payload", JSON, nullable=False),  # domain.fulfilment.Shipment
    Column("sequence", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # domain.fulfilment_state.ShipmentState
    Column("fulfil_lines", JSON),  # IMS order line -> quantity this shipment fulfils
    Column("state_since", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_shipments_reference", shipments.c.reference, shipments.c.sequence)
Index("ix_shipments_state", shipments.c.state, shipments.c.state_since)

# Item Fulfilments, notifications and invoices for the far ends, written with the transition that
# causes them; a follow-on is only ever written by the acknowledgement of its Item Fulfilment.
fulfilment_commands = Table(
    "fulfilment_commands",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("shipment_id", String(100), nullable=False),
    Column("kind", String(20), nullable=False),  # domain.fulfilment_state.FulfilmentCommand
    Column("state", String(16), nullable=False),  # BatchState
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    # First failure of the current run of attempts: the retry window counts from it; replay clears it.
    Column("failing_since", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),
    UniqueConstraint("shipment_id", "kind", name="uq_fulfilment_commands_shipment_kind"),
)
Index("ix_fulfilment_commands_due", fulfilment_commands.c.state, fulfilment_commands.c.next_attempt_at)

# --- access ---------------------------------------------------------------------------------------

# Bearer tokens for the admin API. Only a SHA-256 of each token is kept (store/tokens_repo.py);
# `key` is the token's public part, to find its row without comparing secrets in SQL.
admin_tokens = Table(
    "admin_tokens",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),  # tokens_repo.Role
    Column("token_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)
Index("ix_admin_tokens_name", admin_tokens.c.name)

# --- alerts ---------------------------------------------------------------------------------------

# Each level of each exception episode alerted, once (docs/decisions/0027): level 0 is the alert to
# the owner, level n the n-th escalation. The primary key is what makes "once" hold.
alert_marks = Table(
    "alert_marks",
    metadata,
    Column("exception_id", BigInteger, primary_key=True, autoincrement=False),
    Column("episode", Integer, primary_key=True),
    Column("level", Integer, primary_key=True),
    Column("run", String(40), nullable=False),  # the evaluation that queued it (alert ids begin with it)
    Column("alerted_at", DateTime(timezone=True), nullable=False),
)

# Alert messages to send, one row per channel (the outbox of alerts): a channel that fails retries
# alone, and never makes another channel send twice.
alerts = Table(
    "alerts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("alert", String(40), nullable=False),  # shared by the message's rows, shown in it
    Column("kind", String(16), nullable=False),  # domain.alerting.AlertKind
    Column("owner", String(64), nullable=False),
    Column("level", Integer, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("exception_type", String(64)),  # None: a digest over several types
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("exception_ids", JSON, nullable=False),
    Column("channel", JSON, nullable=False),  # domain.alerting.Channel: kind, url_env, to
    Column("state", String(16), nullable=False),  # BatchState
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("failing_since", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),
)
Index("ix_alerts_due", alerts.c.state, alerts.c.next_attempt_at)

# --- finance --------------------------------------------------------------------------------------

# Warehouse movements with financial effect (docs/decisions/0030), recorded by the fold once per
# warehouse event. Until `settled_at` (its batch posted) its units are held back from the IMS target.
financial_movements = Table(
    "financial_movements",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("sku", String(100), nullable=False),
    Column("warehouse_id", String(64), nullable=False),
    Column("location", String(64), nullable=False),  # the IMS location
    Column("reason", String(32), nullable=False),  # domain.finance.REASONS
    Column("units", BigInteger, nullable=False),  # change in the IMS's figure
    Column("business_date", String(10), nullable=False),  # YYYY-MM-DD, the finance team's day
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("batch_id", String(100)),
    Column("settled_at", DateTime(timezone=True)),
)
Index("ix_financial_movements_pair", financial_movements.c.sku, financial_movements.c.warehouse_id)
Index("ix_financial_movements_open", financial_movements.c.batch_id, financial_movements.c.business_date)

# One inventory adjustment per (IMS location, business day, account), written before it is posted;
# the id is its external id in the IMS, so a re-post after a crash replaces rather than repeats.
finance_batches = Table(
    "finance_batches",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("location", String(64), nullable=False),
    Column("business_date", String(10), nullable=False),
    Column("account", String(32), nullable=False),
    Column("lines", JSON, nullable=False),  # [{sku, reason, units}]
    Column("control_units", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # BatchState: pending, sent (= posted), dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("failing_since", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),
)
Index("ix_finance_batches_due", finance_batches.c.state, finance_batches.c.next_attempt_at)
Index("ix_finance_batches_day", finance_batches.c.location, finance_batches.c.business_date)

# --- shared rate budgets ---------------------------------------------------------------------------

# Each far account's call budget, shared by every worker process on PostgreSQL (docs/decisions/0037):
# the adaptive token bucket of domain/pacing.py, one row per account. Times are wall-clock seconds
# (every worker reads the same clock, within NTP's error); `last_cut` is NULL before the first cut.
rate_budgets = Table(
    "rate_budgets",
    metadata,
    Column("key", String(300), primary_key=True),  # system and base URL: one far account
    Column("rate", Float, nullable=False),
    Column("tokens", Float, nullable=False),
    Column("stamp", Float, nullable=False),
    Column("paused_until", Float, nullable=False),
    Column("last_cut", Float),
    Column("refusals", BigInteger, nullable=False),
    Column("granted", BigInteger, nullable=False),
)

# Each Shopify store's cost bucket as the hub last saw it (the last answer's throttleStatus, less the
# points every worker reserved for calls still in flight), shared by every worker on PostgreSQL.
cost_buckets = Table(
    "cost_buckets",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("maximum", Float, nullable=False),
    Column("available", Float, nullable=False),
    Column("restore_rate", Float, nullable=False),
    Column("as_of", Float, nullable=False),
    Column("in_flight", Float, nullable=False),
)
