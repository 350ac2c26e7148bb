-- Where a recording's files are: '' in the recording node's folder (its
-- spool), 'bucket' once uploaded to the shared bucket and checked there.
ALTER TABLE recordings ADD COLUMN location text NOT NULL DEFAULT '';
