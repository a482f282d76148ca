{{/* The git-sync container, as the init container (oneTime) or the sidecar. */}}
{{- define "cse.gitSyncContainer" -}}
{{- $v := .root.Values.gitSync -}}
image: "{{ $v.image.repository }}:{{ $v.image.tag }}"
imagePullPolicy: {{ $v.image.pullPolicy }}
env:
  - name: GITSYNC_REPO
    value: {{ $v.repo | quote }}
  - name: GITSYNC_REF
    value: {{ $v.ref | quote }}
  - name: GITSYNC_ROOT
    value: /git
  # /git/current -> the checked-out worktree, replaced by an atomic rename.
  - name: GITSYNC_LINK
    value: current
  - name: GITSYNC_PERIOD
    value: {{ $v.period | quote }}
  - name: GITSYNC_DEPTH
    value: "1"
  - name: GITSYNC_ONE_TIME
    value: {{ ternary "true" "false" .oneTime | quote }}
  - name: HOME
    value: /tmp
{{- with $v.credentialsSecret }}
envFrom:
  - secretRef:
      name: {{ . }}
{{- end }}
resources:
  {{- toYaml $v.resources | nindent 2 }}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  capabilities:
    drop: ["ALL"]
volumeMounts:
  - name: git
    mountPath: /git
  - name: tmp
    mountPath: /tmp
{{- end -}}
