-- readable-by: 4
-- The SSH host keys each node presents (SHA256 fingerprints), so that
-- `config check` and `serve` can say when nodes behind one balancer
-- differ. Only a nullable column: nodes that know schema 4 keep working.
ALTER TABLE nodes ADD COLUMN host_keys text[];
