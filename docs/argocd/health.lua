-- Argo CD health check for kro instances (any kind generated from a ResourceGraphDefinition,
-- whatever its group, with or without custom status conditions).
--   deleting, or not yet reconciled at this generation  -> Progressing
--   status.state ERROR                                   -> Degraded
--   status.state ACTIVE and Ready True (when present)    -> Healthy
--   anything else (IN_PROGRESS, waiting)                 -> Progressing
local hs = {status = "Progressing", message = "Waiting for kro to reconcile the instance"}
if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.message = "The instance is being deleted"
  return hs
end
if obj.status == nil then
  return hs
end

local ready = nil
local reason = nil
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" then
      ready = c
    end
    if c.status == "False" and c.message ~= nil and c.message ~= "" and reason == nil then
      reason = c.message
    end
  end
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if observed == nil and ready ~= nil then
  observed = ready.observedGeneration
end
if generation ~= nil and observed ~= nil and observed < generation then
  return hs
end

local state = obj.status.state
if state == "ERROR" then
  hs.status = "Degraded"
  hs.message = reason or "The instance is in state ERROR"
  return hs
end
if state == "ACTIVE" and (ready == nil or ready.status == "True") then
  hs.status = "Healthy"
  hs.message = "All resources are ready"
  return hs
end
if state == "DELETING" then
  hs.message = "The instance is being deleted"
elseif reason ~= nil then
  hs.message = reason
end
return hs
