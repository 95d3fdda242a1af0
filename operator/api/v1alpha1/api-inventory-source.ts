import { z } from "zod";
import { dnsSubdomain } from "./common.js";
import { patternString, withRules } from "./validation.js";

/**
 * Where the service's OpenAPI document is, for the API inventory to compare traffic with:
 * a ConfigMap key in the policy's namespace, or a URL. The URL must be https, or http to an
 * in-cluster Service name (`http://<service>.<namespace>.svc[.cluster.local][:port]/...`):
 * the document decides what counts as documented, so over the Internet it must not be
 * alterable on the way; inside the cluster, traffic to a Service does not leave it.
 */
export const openApiUrlPattern =
  /^(https:\/\/[!$-.0->@-~]+|http:\/\/[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.svc(\.cluster\.local)?(:[0-9]{1,5})?)([/?#][!-~]*)?$/;

export const openApiSource = withRules(
  z
    .object({
      configMap: z
        .object({
          name: dnsSubdomain("Name of the ConfigMap, in the policy's namespace."),
          key: patternString({
            pattern: /^[-._a-zA-Z0-9]+$/,
            maxLength: 253,
            message: "must be a ConfigMap key: letters, digits, '-', '_' and '.'",
            description: "Key of the ConfigMap whose value is the document, JSON or YAML.",
          }),
        })
        .strict()
        .optional()
        .meta({ description: "A ConfigMap key that holds the document (JSON or YAML)." }),
      url: patternString({
        pattern: openApiUrlPattern,
        maxLength: 2048,
        message: "must be an https:// URL, or http:// to an in-cluster Service (http://<service>.<namespace>.svc[:port]/...)",
        description:
          "Where the controller fetches the document (JSON or YAML): https, or plain http only to an in-cluster Service name such as http://shop-api.shop.svc:8080/openapi.json.",
      }).optional(),
    })
    .strict(),
  "The service's OpenAPI 3 document: set configMap or url.",
  [
    {
      cel: "has(self.configMap) != has(self.url)",
      message: "set exactly one of configMap or url",
      holds: (v) => (v.configMap !== undefined) !== (v.url !== undefined),
    },
  ],
);

export const apiInventorySettings = z
  .object({
    openAPI: openApiSource.optional(),
  })
  .strict()
  .meta({
    description:
      "The API inventory (the APIInventory of the same name): endpoints learned from traffic, compared with the policy's rules and, when given, the service's OpenAPI document, to find shadow, zombie and unused endpoints.",
  });
