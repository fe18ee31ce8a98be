"""The simulated IMS's SQLite schema: SuiteQL-named tables plus hidden `sim_*` tables.

Booleans are stored as 'T'/'F', timestamps as 'YYYY-MM-DD HH:MM:SS' (UTC), dates as 'YYYY-MM-DD'.
The `sim_*` tables are not SuiteQL tables (the query authorizer refuses to read them):
`sim_salesorder` holds a sales order's hidden version and its address subrecord, `sim_document` the
control API's sequence number (and origin) of each item fulfilment and invoice, `sim_package` an
item fulfilment's `package` sublist.
"""

from __future__ import annotations

SCHEMA = """
CREATE TABLE item (
  id INTEGER PRIMARY KEY, itemid TEXT NOT NULL, displayname TEXT, externalid TEXT UNIQUE,
  isinactive TEXT NOT NULL DEFAULT 'F', itemtype TEXT NOT NULL DEFAULT 'InvtPart', upccode TEXT,
  createddate TEXT NOT NULL, lastmodifieddate TEXT NOT NULL);
CREATE UNIQUE INDEX item_itemid ON item (itemid COLLATE NOCASE);
CREATE TABLE kititemmember (
  id INTEGER PRIMARY KEY, parentitem INTEGER NOT NULL, item INTEGER NOT NULL,
  quantity REAL NOT NULL, linenumber INTEGER NOT NULL);
CREATE INDEX kititemmember_parent ON kititemmember (parentitem);
CREATE TABLE shipitem (
  id INTEGER PRIMARY KEY, itemid TEXT NOT NULL, isinactive TEXT NOT NULL DEFAULT 'F', externalid TEXT UNIQUE);
CREATE UNIQUE INDEX shipitem_itemid ON shipitem (itemid COLLATE NOCASE);
CREATE TABLE customer (
  id INTEGER PRIMARY KEY, entityid TEXT NOT NULL, isinactive TEXT NOT NULL DEFAULT 'F');
CREATE UNIQUE INDEX customer_entityid ON customer (entityid COLLATE NOCASE);
CREATE TABLE location (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, isinactive TEXT NOT NULL DEFAULT 'F', externalid TEXT UNIQUE);
CREATE TABLE inventoryitemlocations (
  item INTEGER NOT NULL, location INTEGER NOT NULL, quantityonhand REAL NOT NULL DEFAULT 0,
  quantityavailable REAL NOT NULL DEFAULT 0, quantitycommitted REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (item, location));
CREATE TABLE "transaction" (
  id INTEGER PRIMARY KEY, tranid TEXT NOT NULL, type TEXT NOT NULL, recordtype TEXT NOT NULL,
  externalid TEXT, trandate TEXT NOT NULL, memo TEXT, account INTEGER, adjlocation INTEGER,
  status TEXT, entity INTEGER, shipmethod INTEGER, location INTEGER, createdfrom INTEGER,
  createddate TEXT NOT NULL, lastmodifieddate TEXT NOT NULL, email TEXT, UNIQUE (type, externalid));
CREATE INDEX transaction_type_modified ON "transaction" (type, lastmodifieddate);
CREATE INDEX transaction_tranid ON "transaction" (tranid);
CREATE TABLE transactionline (
  uniquekey INTEGER PRIMARY KEY, "transaction" INTEGER NOT NULL, id INTEGER NOT NULL,
  linesequencenumber INTEGER NOT NULL, mainline TEXT NOT NULL DEFAULT 'F', item INTEGER NOT NULL,
  itemtype TEXT, location INTEGER, quantity REAL NOT NULL, quantityshiprecv REAL,
  isclosed TEXT NOT NULL DEFAULT 'F', rate REAL, memo TEXT, createdfrom INTEGER, orderline INTEGER,
  quantitybilled REAL);
CREATE INDEX transactionline_transaction ON transactionline ("transaction");
CREATE TABLE sim_salesorder (id INTEGER PRIMARY KEY, version INTEGER NOT NULL, shippingaddress TEXT);
CREATE TABLE sim_document (
  id INTEGER PRIMARY KEY, type TEXT NOT NULL, seq INTEGER NOT NULL, via TEXT NOT NULL);
CREATE TABLE sim_package (
  uniquekey INTEGER PRIMARY KEY, "transaction" INTEGER NOT NULL, line INTEGER NOT NULL,
  trackingnumber TEXT, weight REAL, descr TEXT);
CREATE INDEX sim_package_transaction ON sim_package ("transaction");
"""

TABLES = (
    "item",
    "kititemmember",
    "shipitem",
    "customer",
    "location",
    "inventoryitemlocations",
    '"transaction"',
    "transactionline",
    "sim_salesorder",
    "sim_document",
    "sim_package",
)
