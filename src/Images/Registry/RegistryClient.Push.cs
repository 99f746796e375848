using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace MiniDocker.Images.Registry;

/// <summary>
/// The write side of the distribution API (push) and `login`'s check. Uploads go to the registry itself (never a
/// mirror) with redirects not followed: an upload location or redirect to another host is refused rather than handed
/// the token or the password.
/// </summary>
public sealed partial class RegistryClient
{
    private HttpClient? _uploadHttp;

    private Uri Registry => _endpoints[^1];

    private HttpClient UploadHttp
    {
        get
        {
            if (_uploadHttp is not null)
                return _uploadHttp;
            var handler = new SocketsHttpHandler
            {
                ConnectTimeout = TimeSpan.FromSeconds(Math.Max(1, _config.TimeoutSeconds)),
                AutomaticDecompression = DecompressionMethods.None,
                AllowAutoRedirect = false,
            };
            var roots = _extraRoots;
            if (roots.Count > 0)
                handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    errors == System.Net.Security.SslPolicyErrors.None || TrustedByExtraRoots(certificate, errors, roots);
            _uploadHttp = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
            _uploadHttp.DefaultRequestHeaders.UserAgent.ParseAdd("minidocker/1.0");
            return _uploadHttp;
        }
    }

    /// <summary>
    /// `login`'s check: GET /v2/ answered with the credentials (Basic, or a token fetched with them). Throws a one-line
    /// error when the registry refuses them. A registry that asks for no authentication accepts any login, as Docker's does.
    /// </summary>
    public async Task CheckLogin()
    {
        using var first = await SendRequest(UploadHttp, Registry, new HttpRequestMessage(HttpMethod.Get, new Uri(Registry, "v2/")), null);
        if (first.IsSuccessStatusCode)
            return;
        if (first.StatusCode != HttpStatusCode.Unauthorized)
            throw new ImageException($"login to {_domain}: the registry answered {(int)first.StatusCode} to GET /v2/");
        var challenges = first.Headers.WwwAuthenticate.Select(h => AuthChallenge.Parse(h.ToString())).OfType<AuthChallenge>().ToList();
        var answer = await Answer(Registry, challenges, scope: null)
                     ?? throw new ImageException($"login to {_domain}: the registry asks for an authentication scheme this client does not speak ({string.Join(", ", challenges.Select(c => c.Scheme))})");
        using var second = await SendRequest(UploadHttp, Registry, new HttpRequestMessage(HttpMethod.Get, new Uri(Registry, "v2/")), answer);
        if (second.StatusCode == HttpStatusCode.Unauthorized)
            throw new ImageException($"login to {_domain}: unauthorized: incorrect username or password");
        if (!second.IsSuccessStatusCode)
            throw new ImageException($"login to {_domain}: the registry answered {(int)second.StatusCode} to GET /v2/");
    }

    /// <summary>HEAD of a blob: whether the registry already has it (then a push skips it).</summary>
    public async Task<bool> HasBlob(string digest)
    {
        RequireDigest(digest);
        using var response = await SendAuthorized(UploadHttp, Registry,
            () => new HttpRequestMessage(HttpMethod.Head, new Uri(Registry, $"v2/{_repository}/blobs/{digest}")));
        if (response.StatusCode == HttpStatusCode.NotFound)
            return false;
        if (response.IsSuccessStatusCode)
            return true;
        throw Refused(response, $"blob {digest[..19]}");
    }

    /// <summary>
    /// Uploads a blob in one request: POST /v2/NAME/blobs/uploads/ opens the upload, PUT LOCATION?digest=D sends the
    /// bytes and closes it (the spec's monolithic upload). The registry verifies the digest; so does the HEAD after.
    /// </summary>
    public async Task UploadBlob(string digest, long size, Func<Stream> open)
    {
        RequireDigest(digest);
        Uri location;
        using (var start = await SendAuthorized(UploadHttp, Registry, () =>
               new HttpRequestMessage(HttpMethod.Post, new Uri(Registry, $"v2/{_repository}/blobs/uploads/"))
               { Content = new ByteArrayContent([]) }))
        {
            if (start.StatusCode != HttpStatusCode.Accepted)
                throw Refused(start, $"starting the upload of {digest[..19]}");
            location = UploadLocation(start);
        }
        var query = location.Query.Length > 1 ? location.Query + "&" : "?";
        var put = new Uri(location.GetLeftPart(UriPartial.Path) + query + "digest=" + Uri.EscapeDataString(digest));
        using var done = await SendAuthorized(UploadHttp, Registry, () =>
        {
            var content = new StreamContent(open());
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            content.Headers.ContentLength = size;
            return new HttpRequestMessage(HttpMethod.Put, put) { Content = content };
        });
        if (done.StatusCode != HttpStatusCode.Created)
            throw Refused(done, $"uploading {digest[..19]}");
    }

    /// <summary>PUT of a manifest under <paramref name="tag"/>; returns its digest (checked against what the registry says).</summary>
    public async Task<string> PutManifest(string tag, string mediaType, byte[] body)
    {
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body));
        using var response = await SendAuthorized(UploadHttp, Registry, () =>
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
            return new HttpRequestMessage(HttpMethod.Put, new Uri(Registry, $"v2/{_repository}/manifests/{tag}")) { Content = content };
        });
        if (response.StatusCode != HttpStatusCode.Created)
            throw Refused(response, $"manifest {tag}");
        if (response.Headers.TryGetValues("Docker-Content-Digest", out var said) && said.FirstOrDefault() is { } theirs && theirs != digest)
            throw new ImageException($"manifest {tag}: the registry stored it as {Display.Name(theirs)}, not {digest}");
        return digest;
    }

    /// <summary>The upload URL of a 202: relative or absolute, but on the registry's own scheme and host.</summary>
    private Uri UploadLocation(HttpResponseMessage response)
    {
        var header = response.Headers.Location;
        if (header is null)
            throw new ImageException($"the registry {Registry.Authority} opened an upload without a Location header");
        var location = header.IsAbsoluteUri ? header : new Uri(Registry, header);
        if (location.Scheme != Registry.Scheme || !location.Authority.Equals(Registry.Authority, StringComparison.OrdinalIgnoreCase))
            throw new ImageException($"the registry {Registry.Authority} gave an upload location on {Display.Name(location.GetLeftPart(UriPartial.Authority))}; refusing to send the layer (and the credentials) elsewhere");
        if (!location.AbsolutePath.StartsWith($"/v2/{_repository}/blobs/uploads/", StringComparison.Ordinal))
            throw new ImageException($"the registry {Registry.Authority} gave an upload location outside /v2/{_repository}/blobs/uploads/: '{Display.Name(location.AbsolutePath)}'");
        return location;
    }

    /// <summary>A one-line error for an unexpected answer: a redirect (not followed), a refusal, a registry error.</summary>
    private ImageException Refused(HttpResponseMessage response, string what)
    {
        var status = (int)response.StatusCode;
        if (status is >= 300 and < 400)
        {
            var target = response.Headers.Location is { } l ? (l.IsAbsoluteUri ? l.GetLeftPart(UriPartial.Authority) : Registry.Authority) : "nowhere";
            return new ImageException($"{what}: the registry {Registry.Authority} redirected to {Display.Name(target)}; a push does not follow redirects");
        }
        return status switch
        {
            401 when StoredCredentials() is null => new ImageException($"{what}: unauthorized: authentication required (run `minidocker login {_domain}`)"),
            401 => new ImageException($"{what}: unauthorized: {Registry.Authority} refused the credentials stored for {_domain}"),
            403 => new ImageException($"{what}: denied: {Registry.Authority} does not allow this account to push to {_repository}"),
            _ => new ImageException($"{what}: the registry {Registry.Authority} answered {status}"),
        };
    }
}
