/**
 * Image names as Dockerfiles, the chart and Pods write them (`bulwark:0.1.0`,
 * `envoyproxy/envoy:v1.40.0`) and as containerd stores them: a name without a domain gets the
 * default one, and a single-component repository the `library/` prefix, exactly as the kubelet
 * and containerd normalise it.
 */
const DEFAULT_DOMAIN = "docker.io";

export interface ImageName {
  repository: string;
  tag: string;
}

/** Splits `repository:tag`; a digest or a missing tag is refused (every image here is pinned by tag). */
export function parseImageName(name: string): ImageName {
  const match = /^([a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/.exec(name);
  if (!match?.[1] || !match[2]) throw new Error(`image ${JSON.stringify(name)} is not repository:tag (lower-case repository, a tag of letters, digits, '_', '.', '-')`);
  return { repository: match[1], tag: match[2] };
}

/** The fully qualified reference containerd gives `name` (`bulwark:0.1.0` → `docker.io/library/bulwark:0.1.0`). */
export function qualifiedReference(name: string): string {
  const { repository, tag } = parseImageName(name);
  const [first, ...rest] = repository.split("/");
  const hasDomain = rest.length > 0 && first !== undefined && (first.includes(".") || first.includes(":") || first === "localhost");
  if (hasDomain) return `${repository}:${tag}`;
  const path = rest.length === 0 ? `library/${repository}` : repository;
  return `${DEFAULT_DOMAIN}/${path}:${tag}`;
}
