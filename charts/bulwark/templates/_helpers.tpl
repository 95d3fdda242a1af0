{{/* The chart name, or nameOverride. */}}
{{- define "bulwark.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* release-chart (or fullnameOverride), at most 63 characters with room for a component suffix. */}}
{{- define "bulwark.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of a component's objects: <fullname>-<component>. Call with (dict "root" $ "component" "controller"). */}}
{{- define "bulwark.componentName" -}}
{{- printf "%s-%s" (include "bulwark.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "bulwark.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "bulwark.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of a component's objects. Call with (dict "root" $ "component" "controller"). */}}
{{- define "bulwark.componentLabels" -}}
{{ include "bulwark.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selector labels of a component (stable across upgrades). */}}
{{- define "bulwark.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bulwark.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The ServiceAccount of a component. */}}
{{- define "bulwark.serviceAccountName" -}}
{{ include "bulwark.componentName" . }}
{{- end }}

{{- define "bulwark.image" -}}
{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "bulwark.caSecretName" -}}
{{ default (include "bulwark.componentName" (dict "root" . "component" "workload-ca")) .Values.controller.workloadCa.secretName }}
{{- end }}

{{- /* The Secret of the controller's xDS serving certificate (tls.crt, tls.key, ca.crt). */}}
{{- define "bulwark.xdsSecretName" -}}
{{ printf "%s-xds-tls" (include "bulwark.componentName" (dict "root" . "component" "controller")) }}
{{- end }}

{{- define "bulwark.redisUrl" -}}
{{- if .Values.redis.url }}{{ .Values.redis.url }}{{- else if .Values.redis.inChart.enabled }}{{ printf "redis://%s.%s.svc:6379" (include "bulwark.componentName" (dict "root" . "component" "redis")) .Release.Namespace }}{{- end }}
{{- end }}

{{/* Pod security context of every Bulwark pod. */}}
{{- define "bulwark.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container security context of every Bulwark container. */}}
{{- define "bulwark.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* Scheduling and pull secrets shared by the pods. Call with (dict "root" $ "values" .Values.controller). */}}
{{- define "bulwark.podScheduling" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Pod template metadata. Call with (dict "root" $ "component" "controller"). */}}
{{- define "bulwark.podMetadata" -}}
labels:
  {{- include "bulwark.componentLabels" . | nindent 2 }}
{{- with .root.Values.podAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
