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

{{/* The bulwark image: repository@digest when a digest is set (the tag is then ignored), else repository:tag. */}}
{{- define "bulwark.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Envoy image of the sidecar, by digest when one is set. */}}
{{- define "bulwark.proxyImage" -}}
{{- if .Values.proxy.image.digest }}
{{- printf "%s@%s" .Values.proxy.image.repository .Values.proxy.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.proxy.image.repository .Values.proxy.image.tag }}
{{- end }}
{{- end }}

{{- define "bulwark.caSecretName" -}}
{{ default (include "bulwark.componentName" (dict "root" . "component" "workload-ca")) .Values.controller.workloadCa.secretName }}
{{- end }}

{{- /*
The Secret of the controller's xDS serving certificate (tls.crt, tls.key, ca.crt): cert-manager's,
or (source chart) the one the controller creates and renews at run time, named apart so that an
upgrade from a chart that rendered it never deletes the one in use.
*/}}
{{- define "bulwark.xdsSecretName" -}}
{{- $controller := include "bulwark.componentName" (dict "root" . "component" "controller") }}
{{- if eq .Values.controller.xdsCertificate.source "chart" }}{{ printf "%s-xds-serving" $controller }}{{ else }}{{ printf "%s-xds-tls" $controller }}{{ end }}
{{- end }}

{{- /* The Secret of bulwark telemetry's serving certificate (tls.crt, tls.key, ca.crt, ca.key): created and renewed by bulwark telemetry at run time. */}}
{{- define "bulwark.telemetrySecretName" -}}
{{- printf "%s-serving" (include "bulwark.componentName" (dict "root" . "component" "telemetry")) }}
{{- end }}

{{- /* The Secret of the injector's webhook serving certificate: created and renewed by the injector (source chart) or cert-manager's. */}}
{{- define "bulwark.injectorSecretName" -}}
{{- $injector := include "bulwark.componentName" (dict "root" . "component" "injector") }}
{{- if eq .Values.injector.certificate.source "chart" }}{{ printf "%s-serving" $injector }}{{ else }}{{ printf "%s-tls" $injector }}{{ end }}
{{- end }}

{{- /* The DNS names of a component's Service. Call with (dict "root" $ "component" "controller"). */}}
{{- define "bulwark.serviceDnsNames" -}}
{{- $name := include "bulwark.componentName" . }}
{{- $ns := .root.Release.Namespace }}
{{- list (printf "%s.%s.svc" $name $ns) (printf "%s.%s" $name $ns) (printf "%s.%s.svc.%s" $name $ns .root.Values.controller.clusterDomain) | toJson }}
{{- end }}

{{- /* Fails unless cert-manager's API is served: a certManager source would otherwise fail the install on "no matches for kind Certificate". */}}
{{- define "bulwark.requireCertManager" -}}
{{- if not (.root.Capabilities.APIVersions.Has "cert-manager.io/v1") }}
{{- fail (printf "%s=certManager needs cert-manager (the API cert-manager.io/v1 is not served by this cluster). Install cert-manager first, or use the default source chart (the certificate is made at run time). With helm template, pass --api-versions cert-manager.io/v1." .what) }}
{{- end }}
{{- end }}

{{- /*
One release per cluster: two would both program every sidecar, write every policy's status and
inject the same pods. A ClusterRole of this chart that belongs to another release (name or
namespace) means one is installed. lookup is empty under helm template: renders stay deterministic.
*/}}
{{- define "bulwark.singleRelease" -}}
{{- range (lookup "rbac.authorization.k8s.io/v1" "ClusterRole" "" "").items }}
{{- $labels := default (dict) .metadata.labels }}
{{- $annotations := default (dict) .metadata.annotations }}
{{- if hasPrefix (printf "%s-" $.Chart.Name) (default "" (index $labels "helm.sh/chart")) }}
{{- $otherName := default "" (index $annotations "meta.helm.sh/release-name") }}
{{- $otherNamespace := default "" (index $annotations "meta.helm.sh/release-namespace") }}
{{- if and $otherName (or (ne $otherName $.Release.Name) (ne $otherNamespace $.Release.Namespace)) }}
{{- fail (printf "Bulwark is already installed in this cluster by release %s in namespace %s (ClusterRole %s). One release per cluster: two would program the same sidecars, write the same policies' status and inject the same pods. Upgrade that release (helm upgrade %s -n %s) or uninstall it first." $otherName $otherNamespace .metadata.name $otherName $otherNamespace) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The one flag that points authz and ratelimit at their shared store; empty without one. */}}
{{- define "bulwark.redisFlag" -}}
{{- if .Values.redis.cluster.nodes }}
{{- if .Values.redis.url }}{{ fail "redis.url and redis.cluster.nodes name two different stores: set one of them" }}{{ end }}
{{- printf "--redis-cluster-nodes=%s" (join "," .Values.redis.cluster.nodes) }}
{{- else if include "bulwark.redisUrl" . }}
{{- printf "--redis-url=%s" (include "bulwark.redisUrl" .) }}
{{- end }}
{{- end }}

{{- define "bulwark.redisUrl" -}}
{{- if .Values.redis.url }}{{ .Values.redis.url }}{{- else if .Values.redis.inChart.enabled }}{{ printf "redis://%s.%s.svc:6379" (include "bulwark.componentName" (dict "root" . "component" "redis")) .Release.Namespace }}{{- end }}
{{- end }}

{{/* Pod security context of the Bulwark pods (values podSecurityContext; the image's own user runs). */}}
{{- define "bulwark.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end }}

{{/* Container security context of every Bulwark container (values containerSecurityContext). */}}
{{- define "bulwark.containerSecurityContext" -}}
{{ toYaml .Values.containerSecurityContext }}
{{- end }}

{{/* extraEnv of a component, as env entries. Call with .Values.<component>. */}}
{{- define "bulwark.extraEnv" -}}
{{- with .extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* extraArgs of a component, as args entries. Call with .Values.<component>. */}}
{{- define "bulwark.extraArgs" -}}
{{- range .extraArgs }}
- {{ . | quote }}
{{- end }}
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
{{- with (default .root.Values.priorityClassName .values.priorityClassName) }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- /* A constraint without a labelSelector spreads this component's pods. */}}
  {{- range . }}
  {{- $constraint := . }}
  {{- if not (hasKey . "labelSelector") }}
  {{- $constraint = merge (dict "labelSelector" (dict "matchLabels" (include "bulwark.selectorLabels" $ | fromYaml))) . }}
  {{- end }}
  - {{- toYaml $constraint | nindent 4 }}
  {{- end }}
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
