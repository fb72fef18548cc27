-- The two PostgreSQL roles of this backend. Run once, as a superuser:
--   psql -v owner_password=... -v app_password=... -f scripts/postgres_roles.sql postgres
--
-- shop_owner owns the database and its tables: migrations run as it.
-- shop_app is what the application connects as: it is not a superuser,
-- cannot bypass row-level security and owns nothing, so every policy applies to it.

CREATE ROLE shop_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE shop_app LOGIN PASSWORD :'app_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
CREATE DATABASE shop OWNER shop_owner;

\connect shop
ALTER SCHEMA public OWNER TO shop_owner;
GRANT USAGE ON SCHEMA public TO shop_app;
-- Every table the owner creates from now on (every migration) is usable by the app.
ALTER DEFAULT PRIVILEGES FOR ROLE shop_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO shop_app;
