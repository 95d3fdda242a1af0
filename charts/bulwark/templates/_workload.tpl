{{/*
A PodDisruptionBudget and an optional HorizontalPodAutoscaler of a component's Deployment.
Call with (dict "root" $ "component" "controller" "values" .Values.controller).
*/}}
{{- define "bulwark.availability" -}}
{{- $name := include "bulwark.componentName" . }}
{{- if .values.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "bulwark.componentLabels" . | nindent 4 }}
spec:
  {{- /* maxUnavailable by default (minAvailable when set): with one replica, minAvailable 1 would block every node drain. */}}
  {{- if and (not (kindIs "invalid" .values.podDisruptionBudget.minAvailable)) (ne (toString .values.podDisruptionBudget.minAvailable) "") }}
  minAvailable: {{ .values.podDisruptionBudget.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .values.podDisruptionBudget.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "bulwark.selectorLabels" . | nindent 6 }}
{{- end }}
{{- if and (hasKey .values "autoscaling") .values.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "bulwark.componentLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ .values.replicas }}
  maxReplicas: {{ .values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .values.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end }}
