{{/* The release's name for every object, at most 63 characters. */}}
{{- define "cse.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cse.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cse.labels" -}}
{{ include "cse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: engine
app.kubernetes.io/part-of: collection-strategy
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "cse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cse.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The health service name the probes ask about (transport/servicer.py SERVICE_NAME). */}}
{{- define "cse.healthService" -}}collection_strategy.v1.CollectionStrategyService{{- end -}}

{{/* A ConfigMap key for a rules file: keys cannot hold "/", so the path's
     slashes become "__"; the volume's items put each key back at its path. */}}
{{- define "cse.ruleKey" -}}{{ . | replace "/" "__" }}{{- end -}}

{{/* The rules files shipped in the ConfigMap: what the engine reads. */}}
{{- define "cse.ruleFiles" -}}
{{- range $path, $_ := .Files.Glob "rules/**" }}
{{- if or (hasSuffix ".yaml" $path) (hasSuffix ".yml" $path) }}
{{ $path }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The --rules directory.
     ConfigMap: the volume's "..data" link, not the mount itself. The kubelet
     keeps the files in a hidden timestamped folder and swaps "..data" to a new
     one atomically; walked from the mount, the server would fingerprint the
     files under the timestamped name (and twice, old and new, for the moment
     between the swap and the old folder's removal). Through "..data" it sees
     strategies/ and compliance/ under their own names, always one version.
     git-sync: its "current" link, swapped the same way. */}}
{{- define "cse.rulesDir" -}}
{{- if .Values.gitSync.enabled -}}
/git/current/{{ .Values.gitSync.subPath | trimPrefix "/" }}
{{- else -}}
{{ .Values.rules.mountPath }}/..data
{{- end -}}
{{- end -}}
