// Plant days in the plant's time zone, and the text of times and figures.

function offsetMs(instantMs, timeZone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(new Date(instantMs))
      .map((p) => [p.type, p.value]),
  );
  const asUtc = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return asUtc - Math.floor(instantMs / 1000) * 1000;
}

/** The UTC instant (ms) of a local wall-clock time on a date in a zone. */
export function zonedTime(day, timeZone, hh = 0, mm = 0) {
  const [y, m, d] = day.split("-").map(Number);
  const guess = Date.UTC(y, m - 1, d, hh, mm);
  let instant = guess - offsetMs(guess, timeZone);
  instant = guess - offsetMs(instant, timeZone);
  return instant;
}

/** The day after a YYYY-MM-DD date. */
export function nextDay(day, days = 1) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** Today's date in a zone. */
export function today(timeZone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

/** A plant day's window as API times. */
export function dayWindow(day, timeZone) {
  return { from: iso(zonedTime(day, timeZone)), to: iso(zonedTime(nextDay(day), timeZone)) };
}

export function iso(ms) {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

export function localTime(value, timeZone, withDate = false) {
  if (!value) return "—";
  const options = { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (withDate) Object.assign(options, { year: "numeric", month: "2-digit", day: "2-digit" });
  return new Intl.DateTimeFormat("en-GB", options).format(new Date(value));
}

/** A ratio as a percentage with one decimal ("—" for none): what the API's figure shows as. */
export function pct(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`;
}

export function hours(seconds) {
  return `${(seconds / 3600).toFixed(2)} h`;
}
