-- A user's page checks the other equality filters in the index itself:
-- rows of one user are spread over the table, and reading each one to
-- check its status or target cost up to 30 ms a page at a million rows.
CREATE INDEX recordings_user_filters ON recordings (user_name, id, status, remote_user, target_alias, target_host);
DROP INDEX recordings_user;
