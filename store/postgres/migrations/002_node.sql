-- The node that records each recording: after a crash a node closes only
-- its own active recordings, never another node's live ones.
ALTER TABLE recordings ADD COLUMN node text NOT NULL DEFAULT '';
