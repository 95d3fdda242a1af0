/** A node of a CRD's OpenAPI schema, as the CRD tests walk it. */
export interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
}

/** Every node below `node` (itself included) with its path, e.g. spec.rules[].match.methods[]. */
export function schemaNodes(node: SchemaNode, path: string): { path: string; node: SchemaNode }[] {
  return [
    { path, node },
    ...Object.entries(node.properties ?? {}).flatMap(([name, child]) => schemaNodes(child, `${path}.${name}`)),
    ...(node.items ? schemaNodes(node.items, `${path}[]`) : []),
    ...(typeof node.additionalProperties === "object" ? schemaNodes(node.additionalProperties, `${path}{}`) : []),
  ];
}
