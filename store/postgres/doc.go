// Package postgres is the PostgreSQL backend of jumpcast's index
// (store.driver: postgres): the same store.Index as the bbolt file, in one
// database that several jumpcast nodes share. store/storetest checks that
// both backends behave alike.
//
// # Schema
//
// The tables are made by the ordered SQL files under migrations/, embedded
// in the binary and applied by Open: each in its own transaction, recorded
// in the table jumpcast_schema, while Open holds a session advisory lock
// (so two nodes starting at once apply each migration once). A database
// whose schema is newer than the binary is refused with an error saying
// to upgrade jumpcast, before anything is written. Recording ids sort as
// bytes (COLLATE "C"), and every ListRecordings filter has an index that
// returns rows in page order (see list.go).
//
// # Connections
//
// A *Store holds a pgx connection pool. When PostgreSQL restarts, the
// calls that were running or that find a dead connection fail with an
// error, and the pool opens new connections for the following ones: no
// restart of jumpcast is needed.
//
// A *Store is safe for concurrent use; Close waits for calls in flight.
package postgres
