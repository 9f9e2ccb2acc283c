using EdgeGuard.Daemon.Batching;
using EdgeGuard.Daemon.Models;

namespace EdgeGuard.Daemon.Http;

/// <summary>
/// The path of one request's inputs through the batcher: readiness, queueing, deadline and client disconnect.
/// Returns the verdicts, or writes the error response and returns null.
/// </summary>
internal sealed class GuardClient(MicroBatcher batcher, ModelHost models, int deadlineMs, ILogger<GuardClient> logger)
{
    public async ValueTask<JobResult?> ClassifyAsync(HttpContext context, GuardInput[] inputs)
    {
        if (models.Current is null)
        {
            await ApiError.NotReady(models.NotReadyReason ?? "no model is loaded").WriteAsync(context).ConfigureAwait(false);
            return null;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        deadline.CancelAfter(deadlineMs);
        var job = new ClassificationJob(inputs, deadline.Token);
        if (!batcher.TryEnqueue(job))
        {
            await (batcher.IsStopping ? ApiError.ShuttingDown() : ApiError.QueueFull(1)).WriteAsync(context).ConfigureAwait(false);
            return null;
        }

        JobResult result;
        try
        {
            result = await job.Completion.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nobody to answer. Its batch-mates are unaffected.
            return null;
        }
        catch (OperationCanceledException)
        {
            await ApiError.Deadline(deadlineMs).WriteAsync(context).ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (job.Completion.IsFaulted)
        {
            // The batcher logged the failure with its stack; the client gets a 500 without internals.
            logger.LogDebug(e, "Request failed in its batch");
            await ApiError.Internal().WriteAsync(context).ConfigureAwait(false);
            return null;
        }

        switch (result.Failure)
        {
            case JobFailure.None:
                return result;
            case JobFailure.InvalidInput:
                await ApiError.BadRequest(result.Error!, "input").WriteAsync(context).ConfigureAwait(false);
                return null;
            case JobFailure.NotReady:
                await ApiError.NotReady(result.Error!).WriteAsync(context).ConfigureAwait(false);
                return null;
            default:
                await ApiError.ShuttingDown().WriteAsync(context).ConfigureAwait(false);
                return null;
        }
    }
}
