namespace EdgeGuard.Daemon.Batching;

/// <summary>How a job ended when it did not get verdicts.</summary>
internal enum JobFailure
{
    None,

    /// <summary>An input the guard refuses (too long for the window limit); the client's fault: 400.</summary>
    InvalidInput,

    /// <summary>No model is loaded: 503.</summary>
    NotReady,

    /// <summary>The daemon is stopping and the job was never run: 503.</summary>
    ShuttingDown,
}

/// <summary>The outcome of one job: verdicts in input order, or why there are none.</summary>
internal readonly record struct JobResult(Verdict[]? Verdicts, string Model, float Threshold, string UnsafeLabel, JobFailure Failure, string? Error)
{
    public static JobResult Fail(JobFailure failure, string error) => new(null, string.Empty, 0f, string.Empty, failure, error);
}

/// <summary>The inputs of one HTTP request on their way through the batcher.</summary>
internal sealed class ClassificationJob
{
    private readonly TaskCompletionSource<JobResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ClassificationJob(GuardInput[] inputs, CancellationToken cancellation)
    {
        Inputs = inputs;
        Cancellation = cancellation;
    }

    public GuardInput[] Inputs { get; }

    /// <summary>Cancelled when the client goes away or the request's deadline passes; a cancelled job is not run.</summary>
    public CancellationToken Cancellation { get; }

    public Task<JobResult> Completion => _completion.Task;

    public void Complete(JobResult result) => _completion.TrySetResult(result);

    public void Fault(Exception error) => _completion.TrySetException(error);

    public void Cancel() => _completion.TrySetCanceled(Cancellation);
}
