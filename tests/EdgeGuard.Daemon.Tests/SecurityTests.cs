using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using EdgeGuard.Daemon.Hosting;

namespace EdgeGuard.Daemon.Tests;

public sealed class SecurityTests(TinyModels models)
{
    [Fact]
    public async Task WithAToken_ApiNeedsIt_ProbesStayOpen()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--token", "s3cret-token");

        using var none = await daemon.PostJsonAsync("/v1/moderations", """{"input": "x"}""");
        using var wrong = await daemon.PostJsonAsync("/v1/moderations", """{"input": "x"}""", token: "s3cret-tokeN");
        using var prefix = await daemon.PostJsonAsync("/v1/moderations", """{"input": "x"}""", token: "s3cret");
        using var right = await daemon.PostJsonAsync("/v1/moderations", """{"input": "x"}""", token: "s3cret-token");
        using var metrics = await daemon.Http.GetAsync("/metrics");
        using var health = await daemon.Http.GetAsync("/healthz");
        using var ready = await daemon.Http.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, prefix.StatusCode);
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, metrics.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("invalid_api_key", await none.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData(341)]
    [InlineData(1024)]
    public async Task LongToken_UpToTheLimitTheConfigurationAccepts_Works(int length)
    {
        string token = string.Concat(Enumerable.Range(0, length).Select(i => (char)('a' + (i % 26))));
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--token", token);

        using var right = await daemon.PostJsonAsync("/v1/moderations", """{"input": "x"}""", token);
        using var longer = await daemon.PostJsonAsync("/v1/moderations", """{"input": "x"}""", token + "a");
        using var shorter = await daemon.PostJsonAsync("/v1/moderations", """{"input": "x"}""", token[..^1]);

        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, longer.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, shorter.StatusCode);
    }

    [Theory]
    [InlineData(1025)]
    [InlineData(5000)]
    public void TokenOverTheLimit_RefusesToStart_NamingTheLimit(int length)
    {
        var e = Assert.Throws<DaemonConfigurationException>(() => DaemonApp.Build(["--model", models.BundlePath, "--socket", "none", "--token", new string('t', length)]));

        Assert.Contains("1024", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("::")]
    [InlineData("192.0.2.10")]
    public void NonLoopbackHost_WithoutAToken_RefusesToStart(string host)
    {
        var e = Assert.Throws<DaemonConfigurationException>(() => DaemonApp.Build(["--model", models.BundlePath, "--host", host, "--socket", "none"]));
        Assert.Contains("token", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequestText_IsNotLogged_UnlessEnabled()
    {
        const string Secret = "my-private-prompt-4711";
        await using (var quiet = await InProcessDaemon.StartAsync(models, models.BundlePath))
        {
            (await quiet.PostJsonAsync("/v1/moderations", $$"""{"input": "{{Secret}}"}""")).Dispose();
            (await quiet.PostJsonAsync("/v1/classify", $$"""{"prompt": "{{Secret}}", "response": "{{Secret}}"}""")).Dispose();
            (await quiet.PostJsonAsync("/v1/moderations", $$"""{"input": ["{{Secret}}", 1]}""")).Dispose();
            Assert.NotEmpty(quiet.Logs.Lines);
            Assert.DoesNotContain(quiet.Logs.Lines, l => l.Contains(Secret, StringComparison.Ordinal));
        }

        await using var verbose = await InProcessDaemon.StartAsync(models, models.BundlePath, "--log-text", "true");
        (await verbose.PostJsonAsync("/v1/moderations", $$"""{"input": "{{Secret}}"}""")).Dispose();
        Assert.Contains(verbose.Logs.Lines, l => l.Contains(Secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task LoggedRequestText_HasItsControlCharactersEscaped()
    {
        // A newline and a forged level prefix, ANSI colour, C1 NEL, DEL, line/paragraph separators and bidi controls.
        const string Forged = "ok\nfail: Microsoft.AspNetCore[0] forged\r\u001b[31mred\u0085nel\u007fdel\u2028ls\u2029ps\u202eevil\u2066iso\u200fmark\\u0041";
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--log-text", "true");
        using var moderation = await daemon.PostJsonAsync("/v1/moderations", JsonSerializer.Serialize(new { input = Forged }));
        using var classify = await daemon.PostJsonAsync("/v1/classify", JsonSerializer.Serialize(new { prompt = "p-" + Forged, response = "r-" + Forged }));

        Assert.Equal(HttpStatusCode.OK, moderation.StatusCode);
        Assert.Equal(HttpStatusCode.OK, classify.StatusCode);
        var logged = daemon.Logs.Lines.Where(l => l.Contains("forged", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, logged.Length);
        foreach (string line in logged)
        {
            string message = line.TrimEnd();
            Assert.DoesNotContain(message, c => char.IsControl(c) || c is '\u2028' or '\u2029' or '\u202e' or '\u2066' or '\u200f');
            Assert.Contains(@"ok\nfail: Microsoft.AspNetCore[0] forged\r\u001B[31mred\u0085nel\u007Fdel\u2028ls\u2029ps\u202Eevil\u2066iso\u200Fmark\\u0041", message);
        }
    }

    [Fact]
    public async Task AdminReload_WithoutAConfiguredToken_IsForbidden()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var response = await daemon.PostJsonAsync("/admin/reload", "{}");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task AdminReload_WithAToken_NeedsTheToken()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--token", "t0ken");
        var request = new HttpRequestMessage(HttpMethod.Post, "/admin/reload");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "wrong");
        using var response = await daemon.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
