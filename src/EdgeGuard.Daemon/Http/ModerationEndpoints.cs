using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using EdgeGuard.Daemon.Batching;
using EdgeGuard.Daemon.Hosting;
using EdgeGuard.Daemon.Models;

namespace EdgeGuard.Daemon.Http;

/// <summary>
/// The classification API: OpenAI's <c>/v1/moderations</c>, the native <c>/v1/classify</c> for prompt + response
/// pairs, and <c>/v1/models</c>.
/// </summary>
internal sealed class ModerationEndpoints(GuardClient guard, ModelHost models, JsonBody body, DaemonSettings settings, ILogger<ModerationEndpoints> logger)
{
    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapPost("/v1/moderations", ModerateAsync);
        routes.MapPost("/v1/classify", ClassifyAsync);
        routes.MapGet("/v1/models", ListModelsAsync);
    }

    public async Task ModerateAsync(HttpContext context)
    {
        if (await ReadAndClassifyAsync(context, DaemonJsonContext.Web.ModerationRequest, r => ModerationInputs(r.Input), "moderations").ConfigureAwait(false) is not { } result)
        {
            return;
        }

        var results = new List<ModerationResult>(result.Verdicts!.Length);
        foreach (var v in result.Verdicts!)
        {
            results.Add(new ModerationResult(
                v.Flagged,
                new Dictionary<string, bool>(1) { [result.UnsafeLabel] = v.Flagged },
                new Dictionary<string, float>(1) { [result.UnsafeLabel] = v.UnsafeScore }));
        }

        var response = new ModerationResponse("modr-" + Guid.NewGuid().ToString("N"), result.Model, results);
        await context.Response.WriteAsJsonAsync(response, DaemonJsonContext.Web.ModerationResponse).ConfigureAwait(false);
    }

    public async Task ClassifyAsync(HttpContext context)
    {
        if (await ReadAndClassifyAsync(context, DaemonJsonContext.Web.ClassifyRequest, ClassifyInputs, "classify").ConfigureAwait(false) is not { } result)
        {
            return;
        }

        var results = new List<VerdictBody>(result.Verdicts!.Length);
        foreach (var v in result.Verdicts!)
        {
            results.Add(new VerdictBody(v.Flagged, v.UnsafeScore, v.Label, v.TokenCount, v.Windows, v.Truncated));
        }

        await context.Response.WriteAsJsonAsync(new ClassifyResponse(result.Model, result.Threshold, results), DaemonJsonContext.Web.ClassifyResponse)
            .ConfigureAwait(false);
    }

    /// <summary>Reads the body, turns it into inputs and classifies them; null when an error response was written instead.</summary>
    private async Task<JobResult?> ReadAndClassifyAsync<TRequest>(
        HttpContext context, JsonTypeInfo<TRequest> type, Func<TRequest, GuardInput[]> toInputs, string route)
        where TRequest : class
    {
        var (request, error) = await body.ReadAsync(context, type).ConfigureAwait(false);
        GuardInput[] inputs = [];
        try
        {
            if (error is null)
            {
                inputs = toInputs(request!);
            }
        }
        catch (ApiException e)
        {
            error = e.Error;
        }

        if (error is not null)
        {
            await error.WriteAsync(context).ConfigureAwait(false);
            return null;
        }

        LogInputs(route, inputs);
        return await guard.ClassifyAsync(context, inputs).ConfigureAwait(false);
    }

    public Task ListModelsAsync(HttpContext context)
    {
        var data = new List<ModelEntry>(1);
        if (models.Current is { } model)
        {
            var info = model.Guard.Model;
            data.Add(new ModelEntry(model.Name, "model", model.LoadedAt.ToUnixTimeSeconds(), "edgeguard", info.Format, info.Precision, model.Guard.Threshold));
        }

        return context.Response.WriteAsJsonAsync(new ModelList("list", data), DaemonJsonContext.Web.ModelList);
    }

    private GuardInput[] ModerationInputs(JsonElement input)
    {
        switch (input.ValueKind)
        {
            case JsonValueKind.String:
                return [new GuardInput(input.GetString()!)];
            case JsonValueKind.Array:
                int count = input.GetArrayLength();
                CheckCount(count, "input");
                var inputs = new GuardInput[count];
                int i = 0;
                foreach (var item in input.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        ApiThrow.BadRequest($"input[{i}] is {Describe(item.ValueKind)}; every element of 'input' must be a string.", "input");
                    }

                    inputs[i++] = new GuardInput(item.GetString()!);
                }

                return inputs;
            case JsonValueKind.Undefined:
                ApiThrow.BadRequest("'input' is required: a string or an array of strings.", "input");
                return [];
            default:
                ApiThrow.BadRequest($"'input' is {Describe(input.ValueKind)}; it must be a string or an array of strings.", "input");
                return [];
        }
    }

    private GuardInput[] ClassifyInputs(ClassifyRequest request)
    {
        if (request.Inputs is { } items)
        {
            if (request.Prompt is not null || request.Response is not null)
            {
                ApiThrow.BadRequest("Send either 'prompt' (and 'response') or 'inputs', not both.", "inputs");
            }

            CheckCount(items.Count, "inputs");
            var inputs = new GuardInput[items.Count];
            for (int i = 0; i < inputs.Length; i++)
            {
                if (items[i]?.Prompt is not { } prompt)
                {
                    ApiThrow.BadRequest($"inputs[{i}] has no 'prompt' string.", "inputs");
                    return [];
                }

                inputs[i] = new GuardInput(prompt, items[i]!.Response);
            }

            return inputs;
        }

        if (request.Prompt is null)
        {
            ApiThrow.BadRequest("'prompt' is required (a string; 'response' is optional), or 'inputs': an array of {prompt, response}.", "prompt");
        }

        return [new GuardInput(request.Prompt, request.Response)];
    }

    private void CheckCount(int count, string param)
    {
        if (count == 0)
        {
            ApiThrow.BadRequest($"'{param}' is an empty array; send at least one input.", param);
        }

        if (count > settings.MaxInputs)
        {
            ApiThrow.BadRequest($"'{param}' has {count} inputs; the limit is {settings.MaxInputs} per request (EdgeGuard:MaxInputs).", param);
        }
    }

    private void LogInputs(string route, GuardInput[] inputs)
    {
        // Prompts are private: their text is logged only when the operator turned that on, and then escaped, so that
        // a newline or a terminal escape in a prompt cannot forge a log line or hide one.
        if (settings.LogRequestText)
        {
            foreach (var input in inputs)
            {
                logger.LogInformation(
                    "{Route} input: prompt {Prompt} response {Response}",
                    route,
                    PrintableText.Escape(input.Prompt),
                    input.Response is null ? null : PrintableText.Escape(input.Response));
            }
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "a string",
    };
}
