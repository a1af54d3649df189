// Rewrites a Parquet file with DuckDB (COPY ... TO), the way a user who
// filtered or joined featurize's output would: nullable columns, DuckDB's
// own encodings and list layout, no winnow metadata. featstore's
// TestForeignParquet reads the result.
//
//   node internal/featstore/testdata/rewrite_duckdb.mjs IN.parquet OUT.parquet
import { DuckDBInstance } from '@duckdb/node-api';

const [inFile, outFile] = process.argv.slice(2);
if (!inFile || !outFile) {
  console.error('usage: node rewrite_duckdb.mjs IN.parquet OUT.parquet');
  process.exit(2);
}
const lit = (f) => "'" + f.replaceAll("'", "''") + "'";
const db = await DuckDBInstance.create(':memory:');
const conn = await db.connect();
await conn.run(`COPY (SELECT features, width, path FROM read_parquet(${lit(inFile)}) ORDER BY path DESC)
  TO ${lit(outFile)} (FORMAT parquet)`);
