/** Placeholder values per user: `{ [userId]: { name: value } }`. */
export type Vars = Record<string, Record<string, string>>;

function csvCells(line: string): string[] {
  return line.split(",").map((cell) => cell.trim().replace(/^"(.*)"$/, "$1"));
}

/**
 * A CSV of users: the first column holds user IDs; with a header row
 * (`userId,name,…`) the other columns become each user's placeholder values.
 */
export function parseUsersCsv(text: string): { users: string[]; vars: Vars; columns: string[] } {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  const first = csvCells(lines[0] ?? "");
  const hasHeader = /^(user_?id|uid|user)$/i.test(first[0] ?? "");
  const columns = hasHeader ? first.slice(1) : [];
  const vars: Vars = {};
  const users: string[] = [];
  for (const line of hasHeader ? lines.slice(1) : lines) {
    const [userId, ...values] = csvCells(line);
    if (!userId) continue;
    users.push(userId);
    if (columns.length > 0) vars[userId] = Object.fromEntries(columns.map((name, i) => [name, values[i] ?? ""]));
  }
  return { users, vars, columns };
}

