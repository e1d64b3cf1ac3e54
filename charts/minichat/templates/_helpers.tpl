{{/* Names, cut to the 63 characters Kubernetes allows in a label value. */}}
{{- define "minichat.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "minichat.operator.fullname" -}}
{{- printf "%s-operator" (include "minichat.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "minichat.operator.serviceAccountName" -}}
{{- default (include "minichat.operator.fullname" .) .Values.operator.serviceAccount.name -}}
{{- end -}}

{{- define "minichat.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: minichat
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: minichat
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "minichat.operator.selectorLabels" -}}
app.kubernetes.io/name: minichat
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "minichat.operator.labels" -}}
{{ include "minichat.labels" . }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* The operator's permissions on MiniChats and on what it makes for them. */}}
{{- define "minichat.operator.rules" -}}
- apiGroups: [minichat.dev]
  resources: [minichats]
  verbs: [get, list, watch, patch]
- apiGroups: [minichat.dev]
  resources: [minichats/status]
  verbs: [get, patch]
# Owner references with blockOwnerDeletion need it where the API server enforces them.
- apiGroups: [minichat.dev]
  resources: [minichats/finalizers]
  verbs: [update]
- apiGroups: [""]
  resources: [services, secrets, configmaps, serviceaccounts]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies, ingresses]
  verbs: [get, list, watch, create, patch, delete]
# spec.observability.serviceMonitor, where the Prometheus Operator is installed.
- apiGroups: [monitoring.coreos.com]
  resources: [servicemonitors]
  verbs: [get, list, watch, create, patch, delete]
{{- end -}}
