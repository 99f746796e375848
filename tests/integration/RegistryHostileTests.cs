using System.Net;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// push and login against a hostile registry (an HttpListener on 127.0.0.1): a bad upload location, an upload location
/// or redirect to another host, a 401 loop. Each is one line with exit status 1; no manifest is ever sent, the local
/// store is unchanged, and a refused login stores nothing.
/// </summary>
public sealed class RegistryHostileTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private FakeRegistry? _fake;

    public void Dispose()
    {
        _md.Dispose();
        _fake?.Dispose();
    }

    /// <summary>/v2/ answers 200, blob HEADs 404, and the upload POST is answered by <paramref name="upload"/>.</summary>
    private FakeRegistry UploadAnsweredBy(Action<HttpListenerResponse, FakeRegistry> upload) =>
        _fake = new FakeRegistry((context, fake) =>
        {
            var request = context.Request;
            var response = context.Response;
            if (request.HttpMethod == "POST" && request.Url!.AbsolutePath.Contains("/blobs/uploads/"))
                upload(response, fake);
            else if (request.HttpMethod == "HEAD")
                response.StatusCode = 404;
            else if (request.Url!.AbsolutePath == "/v2/")
                response.StatusCode = 200;
            else
                response.StatusCode = 500;
        });

    private void AssertRefused(FakeRegistry fake, string expected)
    {
        var images = _md.Run("images", "-q").Stdout;
        var reference = $"{fake.Host}/hostile:1";
        Assert.Equal(0, _md.Run("tag", "busybox", reference).ExitCode);
        var push = _md.Run("push", reference);
        Assert.Equal(1, push.ExitCode);
        Assert.Single(push.Stderr.Trim().Split('\n'));
        Assert.Contains(expected, push.Stderr);
        Assert.DoesNotContain(fake.Requests, r => r.Contains("/manifests/"));
        Assert.DoesNotContain(fake.Requests, r => r.StartsWith("PUT"));
        Assert.Equal(images, _md.Run("images", "-q").Stdout);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_md.Root, "images"), ".tmp-*"));
    }

    [Fact]
    public void An_upload_location_on_another_host_is_refused()
    {
        var fake = UploadAnsweredBy((response, _) =>
        {
            response.StatusCode = 202;
            response.RedirectLocation = "http://127.0.0.2:9/v2/hostile/blobs/uploads/stolen";
        });
        AssertRefused(fake, "upload location on http://127.0.0.2:9");
    }

    [Fact]
    public void An_upload_without_a_location_or_outside_the_upload_path_is_refused()
    {
        var fake = UploadAnsweredBy((response, _) => response.StatusCode = 202);
        AssertRefused(fake, "without a Location header");
        fake.Dispose();
        var outside = UploadAnsweredBy((response, _) =>
        {
            response.StatusCode = 202;
            response.RedirectLocation = "/v2/other/manifests/latest";
        });
        AssertRefused(outside, "outside /v2/hostile/blobs/uploads/");
    }

    [Fact]
    public void A_redirect_of_the_upload_to_another_host_is_not_followed()
    {
        var fake = UploadAnsweredBy((response, _) =>
        {
            response.StatusCode = 307;
            response.RedirectLocation = "http://127.0.0.2:9/v2/hostile/blobs/uploads/";
        });
        AssertRefused(fake, "redirected to http://127.0.0.2:9");
    }

    [Fact]
    public void A_401_loop_ends_after_one_token_with_one_line_for_push_and_for_login()
    {
        var fake = _fake = new FakeRegistry((context, fake) =>
        {
            if (context.Request.Url!.AbsolutePath == "/token")
            {
                context.Response.ContentType = "application/json";
                context.Response.OutputStream.Write("""{"token":"always-refused"}"""u8);
                return;
            }
            context.Response.StatusCode = 401;
            context.Response.AddHeader("WWW-Authenticate", $"Bearer realm=\"http://{fake.Host}/token\",service=\"loop\"");
        });
        AssertRefused(fake, "unauthorized");
        Assert.True(fake.Requests.Count < 20, string.Join("\n", fake.Requests));

        var login = _md.RunWith("secret\n", TimeSpan.FromSeconds(60), "login", "-u", "someone", "--password-stdin", fake.Host);
        Assert.Equal(1, login.ExitCode);
        Assert.Single(login.Stderr.Trim().Split('\n'));
        Assert.Contains("incorrect username or password", login.Stderr);
        Assert.False(File.Exists(Path.Combine(_md.DockerConfig, "config.json")));
    }
}
