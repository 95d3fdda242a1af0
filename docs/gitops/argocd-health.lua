-- Argo CD health check for Bulwark's APISecurityPolicy (bulwark.dev/v1alpha1).
-- Install it as resource.customizations.health.bulwark.dev_APISecurityPolicy in argocd-cm
-- (docs/gitops/README.md). It reads the same conditions kstatus reads, and runs with Argo CD's default
-- libraries for custom checks (base and table only: no string library).
--   Degraded     Stalled=True: the policy cannot progress until something changes (its spec, a
--                Secret, a Service, an older policy, what Envoy accepts); the reason says which.
--   Progressing  no status yet, a generation the controller has not observed, or Ready=False
--                without Stalled (Reconciling: sidecars still acknowledging).
--   Healthy      Ready=True, including NoSidecars (nothing serves the targets yet, nothing to wait for).
local function condition(conditions, kind)
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function say(c)
  if c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  return c.reason
end

local status = obj.status
if status == nil or status.conditions == nil then
  return { status = "Progressing", message = "Waiting for the Bulwark controller to report the policy's status" }
end
local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= generation then
  return { status = "Progressing", message = "Waiting for the Bulwark controller to observe generation " .. generation }
end

local stalled = condition(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  return { status = "Degraded", message = say(stalled) }
end
local ready = condition(status.conditions, "Ready")
if ready == nil then
  return { status = "Progressing", message = "Waiting for the Bulwark controller to report Ready" }
end
if ready.status ~= "True" then
  return { status = "Progressing", message = say(ready) }
end
local message = say(ready)
local warnings = condition(status.conditions, "Warnings")
if warnings ~= nil and warnings.status == "True" then
  message = message .. " Warnings: " .. say(warnings)
end
return { status = "Healthy", message = message }
