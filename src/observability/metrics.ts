/**
 * Every metric Backtrack exports, defined in one place with its help text.
 * All are prefixed `backtrack_` and labelled by `source`; the alert rules in
 * config/prometheus/alerts.yaml and the dashboard are written against these
 * names, so renaming one is a breaking change.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'backtrack_' });
  const reg = { registers: [registry] };
  const g = (name: string, help: string, labelNames: string[] = ['source']) => new Gauge({ name, help, labelNames, ...reg });
  const c = (name: string, help: string, labelNames: string[] = ['source']) => new Counter({ name, help, labelNames, ...reg });
  return {
    registry,
    up: g('backtrack_up', 'Always 1 while the daemon runs: its absence is the "daemon down" signal.', []),
    configSources: g('backtrack_config_sources', 'Number of sources in the loaded configuration.', []),
    leader: g('backtrack_leader', '1 when this daemon holds the leader lock for the source (only the leader archives, backs up, drills and prunes it).'),
    jobRunning: g('backtrack_job_running', '1 while a job of this kind runs for the source.', ['source', 'job']),
    jobsTotal: c('backtrack_jobs_total', 'Jobs finished, by kind and outcome (succeeded, failed, skipped).', ['source', 'job', 'outcome']),

    backupLastSuccess: g('backtrack_backup_last_success_timestamp_seconds', 'Unix time the newest successful backup finished.'),
    backupLastDuration: g('backtrack_backup_last_duration_seconds', 'How long the newest successful backup took.'),
    backupLastSize: g('backtrack_backup_last_size_bytes', 'Bytes stored by the newest successful backup.'),
    backupLastLockHeld: g('backtrack_backup_last_lock_held_seconds', 'Seconds the newest successful backup held the lock that blocks commits while its dump sessions opened one snapshot (0: no lock, a one-stream backup or a source without binlog).'),
    backupLastFailure: g('backtrack_backup_last_failure_timestamp_seconds', 'Unix time of the newest failed backup (0: none since start).'),
    backupFailures: c('backtrack_backup_failures_total', 'Failed backups, by reason (the error code).', ['source', 'reason']),

    drillLastVerdict: g('backtrack_drill_last_verdict', 'Verdict of the newest drill: 1 passed, 0 failed.'),
    drillLastTimestamp: g('backtrack_drill_last_timestamp_seconds', 'Unix time the newest drill finished (passed or failed).'),
    drillLastSuccess: g('backtrack_drill_last_success_timestamp_seconds', 'Unix time the newest passed drill finished.'),
    drillRestoreSeconds: g('backtrack_drill_restore_seconds', 'Measured restore time (load + replay) of the newest drill: the RTO the backup really has.'),
    drillFailures: c('backtrack_drill_failures_total', 'Failed drills, by failed check.', ['source', 'check']),
    drillErrors: c('backtrack_drill_errors_total', 'Drills that could not run (no scratch server, timeout); they say nothing about the backup.'),

    binlogLag: g('backtrack_binlog_archive_lag_seconds', 'Seconds the oldest not-yet-archived binlog event has waited (0 when the archive is caught up).'),
    binlogLastEvent: g('backtrack_binlog_last_archived_event_timestamp_seconds', 'Unix time (event timestamp) of the newest archived binlog transaction.'),
    binlogArchiverUp: g('backtrack_binlog_archiver_up', '1 while the binlog archiver streams from the source.'),
    binlogGaps: g('backtrack_binlog_gaps', 'Gaps in the source\'s archived binlog chain (purged before archived, missing segments, GTID discontinuities).'),
    binlogGapsDetected: c('backtrack_binlog_gaps_detected_total', 'Gaps the archiver detected while running.'),
    binlogSegments: c('backtrack_binlog_segments_uploaded_total', 'Binlog segments uploaded (pieces and whole files).'),

    windowStart: g('backtrack_restorable_window_start_timestamp_seconds', 'Start of the newest restorable window (the oldest backup\'s time); 0 when there is none.'),
    windowEnd: g('backtrack_restorable_window_end_timestamp_seconds', 'End of the newest restorable window (the newest archived transaction); 0 when there is none.'),
    repositoryBytes: g('backtrack_repository_bytes', 'Bytes stored in the repository, by kind (backups, binlogs, drills).', ['source', 'kind']),
    backupsKept: g('backtrack_backups', 'Committed backups in the repository.'),
    hiddenObjects: g('backtrack_repository_hidden_objects', 'Objects of the source hidden by a delete marker Backtrack did not write (S3 Object Lock: someone deleted them with the repository\'s credentials; the locked data is still read).', ['source']),
    backupsUnusable: g('backtrack_backups_unusable', 'Backups Backtrack cannot use, by kind: damaged (the manifest is unreadable or wrong) or orphan (committed according to the audit trail, manifest missing). They are kept until prune --orphans.', ['source', 'kind']),
    pruneDeleted: c('backtrack_prune_deleted_total', 'Objects deleted by retention, by kind.', ['source', 'kind']),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
