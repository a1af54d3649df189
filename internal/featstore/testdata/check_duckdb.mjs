// Reads a featstore Parquet file with DuckDB, an implementation independent
// of parquet-go, and prints what it sees as one JSON object on stdout:
// schema, row count, feature lengths, key-value metadata, codecs, row group
// count and the first rows by path. featstore's TestDuckDBReadsFile compares
// that with what it wrote.
//
//   npm ci --prefix internal/featstore/testdata
//   node internal/featstore/testdata/check_duckdb.mjs FILE.parquet
import { DuckDBInstance } from '@duckdb/node-api';

const file = process.argv[2];
if (!file) {
  console.error('usage: node check_duckdb.mjs FILE.parquet');
  process.exit(2);
}
const lit = "'" + file.replaceAll("'", "''") + "'";

const db = await DuckDBInstance.create(':memory:');
const conn = await db.connect();
const rows = async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJS();

const schema = (await rows(`DESCRIBE SELECT * FROM read_parquet(${lit})`))
  .map((r) => ({ name: r.column_name, type: r.column_type }));
const [counts] = await rows(
  `SELECT count(*) AS n, min(len(features)) AS min_len, max(len(features)) AS max_len,
          count(DISTINCT path) AS paths
   FROM read_parquet(${lit})`);
const kv = Object.fromEntries((await rows(
  `SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${lit})`))
  .map((r) => [r.k, r.v]));
const codecs = (await rows(
  `SELECT DISTINCT compression FROM parquet_metadata(${lit}) ORDER BY 1`)).map((r) => r.compression);
const [groups] = await rows(
  `SELECT count(DISTINCT row_group_id) AS n FROM parquet_metadata(${lit})`);
const first = (await rows(
  `SELECT path, sha256, width, height, features FROM read_parquet(${lit}) ORDER BY path LIMIT 3`))
  .map((r) => ({ ...r, features: Array.from(r.features.items ?? r.features) }));

console.log(JSON.stringify({
  schema,
  rows: Number(counts.n),
  distinct_paths: Number(counts.paths),
  min_len: Number(counts.min_len),
  max_len: Number(counts.max_len),
  row_groups: Number(groups.n),
  codecs,
  metadata: kv,
  first,
}, (k, v) => (typeof v === 'bigint' ? Number(v) : v)));
