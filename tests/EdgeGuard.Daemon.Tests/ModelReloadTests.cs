using System.Net;
using System.Net.Http.Headers;
using EdgeGuard.Daemon.Models;

namespace EdgeGuard.Daemon.Tests;

public sealed class ModelReloadTests(TinyModels models)
{
    private const string Token = "reload-token";

    [Fact]
    public async Task ReloadToACorruptModel_Is422_AndTheOldModelKeepsServing_ThenAGoodOneSwapsIn()
    {
        string dir = models.NewScratch();
        string served = Path.Combine(dir, "model.gguf");
        File.Copy(models.BundlePath, served);
        await using var daemon = await InProcessDaemon.StartAsync(models, served, "--token", Token);
        var first = daemon.Services.GetRequiredService<ModelHost>().Current;

        // Deployment replaces a model by renaming a complete file over it; the mapped old file stays intact.
        ReplaceAtomically(models.CorruptPath, served);
        using var bad = await Reload(daemon);
        using var during = await daemon.PostJsonAsync("/v1/moderations", """{"input": "still serving"}""", Token);

        Assert.Equal((HttpStatusCode)422, bad.StatusCode);
        Assert.Contains("model_invalid", await bad.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, during.StatusCode);
        Assert.Same(first, daemon.Services.GetRequiredService<ModelHost>().Current);

        ReplaceAtomically(models.BundlePath, served);
        using var good = await Reload(daemon);

        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.NotSame(first, daemon.Services.GetRequiredService<ModelHost>().Current);
        string metrics = await daemon.MetricsAsync(Token);
        Assert.Contains("edgeguard_model_reloads_total{result=\"failure\"} 1\n", metrics);
        Assert.Contains("edgeguard_model_reloads_total{result=\"success\"} 2\n", metrics);
    }

    [Fact]
    public async Task Reload_AfterAMissingModelAppears_MakesTheDaemonReady()
    {
        string served = Path.Combine(models.NewScratch(), "later.gguf");
        await using var daemon = await InProcessDaemon.StartAsync(models, served, "--token", Token);
        using var before = await daemon.Http.GetAsync("/readyz");

        File.Copy(models.BundlePath, served);
        using var reload = await Reload(daemon);
        using var after = await daemon.Http.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, before.StatusCode);
        Assert.Equal(HttpStatusCode.OK, reload.StatusCode);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task Reload_UnderLoad_LosesNoRequest()
    {
        string served = Path.Combine(models.NewScratch(), "model.gguf");
        File.Copy(models.BundlePath, served);
        await using var daemon = await InProcessDaemon.StartAsync(models, served, "--token", Token);

        var load = Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            using var r = await daemon.PostJsonAsync("/v1/moderations", $$"""{"input": "request {{i}}"}""", Token);
            return r.StatusCode;
        }));
        for (int i = 0; i < 3; i++)
        {
            using var reload = await Reload(daemon);
            Assert.Equal(HttpStatusCode.OK, reload.StatusCode);
        }

        Assert.All(await load, s => Assert.Equal(HttpStatusCode.OK, s));
    }

    private static void ReplaceAtomically(string source, string target)
    {
        string temporary = target + ".new";
        File.Copy(source, temporary, overwrite: true);
        File.Move(temporary, target, overwrite: true);
    }

    private static Task<HttpResponseMessage> Reload(InProcessDaemon daemon)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/admin/reload");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return daemon.Http.SendAsync(request);
    }
}
