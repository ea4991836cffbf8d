/**
 * The Cache-Tag vocabulary: what public reads are tagged with and what writes purge, in one
 * place so the two cannot drift. A read carries "catalog" plus what it shows; a write purges
 * what it changed. Tags are header values: anything but visible ASCII (no commas) is dropped.
 */
const TAG = /^[\x21-\x2b\x2d-\x7e]{1,128}$/;

export const tag = {
  catalog: "catalog",
  products: "products",
  search: "search",
  categories: "categories",
  product: (id: string) => `product:${id}`,
  category: (idOrSlug: string) => `category:${idOrSlug}`,
  /** Uuids are case-insensitive: one tag per order however the id was spelt. */
  order: (id: string) => `order:${id.toLowerCase()}`,
} as const;

/** Unique, header-safe tags. */
export function cacheTags(...tags: (string | null | undefined | false)[]): string[] {
  return [...new Set(tags.filter((t): t is string => typeof t === "string" && TAG.test(t)))];
}

/** Reads. */
export const readTags = {
  categories: () => cacheTags(tag.catalog, tag.categories),
  productList: (category?: string) => cacheTags(tag.catalog, tag.products, category && tag.category(category)),
  search: () => cacheTags(tag.catalog, tag.search),
  product: (p: { id: string; category: { id: string } | null }) =>
    cacheTags(tag.product(p.id), p.category && tag.category(p.category.id), tag.catalog),
};

/** Writes: a product change shows in its page, every list and search, and category counts. */
export const writeTags = {
  product: (id: string, ...categoryIds: (string | null | undefined)[]) =>
    cacheTags(tag.product(id), tag.products, tag.search, tag.categories, ...categoryIds.map((c) => c && tag.category(c))),
  productImport: (categoryIds: string[]) => cacheTags(tag.products, tag.search, tag.categories, ...categoryIds.map(tag.category)),
  newCategory: () => cacheTags(tag.categories),
  category: (id: string) => cacheTags(tag.categories, tag.category(id), tag.products, tag.search),
};
