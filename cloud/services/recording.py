"""Reporting to a Job's recorder (core.jobs.JobRecorder) that may be None: a service
called outside a Job (a test, a shell, a benchmark) records nothing."""


def progress(recorder, percent, message):
    if recorder is not None:
        recorder.progress(percent, message)


def log(recorder, line):
    if recorder is not None:
        recorder.log(line)
