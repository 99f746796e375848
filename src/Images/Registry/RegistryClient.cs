using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using MiniDocker.Linux;

namespace MiniDocker.Images.Registry;

/// <summary>
/// One registry (and, for Docker Hub, its mirrors) spoken to over the OCI distribution API: manifests and blobs by
/// digest, every byte verified against the digest that named it, anonymous bearer tokens, retries with backoff.
/// </summary>
public sealed partial class RegistryClient : IDisposable
{
    private const long MaxManifestBytes = 4 << 20;
    private const long MaxConfigBytes = 8 << 20;
    private readonly HttpClient _http;
    private readonly RegistryConfig _config;
    private readonly string _repository;
    private readonly List<Uri> _endpoints = [];
    private readonly Dictionary<Uri, AuthenticationHeaderValue> _authorization = [];
    private readonly object _tokenLock = new();
    private readonly string _domain;
    private readonly X509Certificate2Collection _extraRoots;

    public RegistryClient(RegistryConfig config, DistributionReference reference)
    {
        _config = config;
        _repository = reference.Path;
        _domain = reference.Domain;
        var host = reference.Domain;
        if (host == DistributionReference.DockerHub)
        {
            // Docker applies mirrors to Docker Hub only; the hub itself is the last resort.
            foreach (var mirror in config.RegistryMirrors)
                _endpoints.Add(new Uri(mirror.TrimEnd('/') + "/"));
            host = "registry-1.docker.io";
        }
        var extraRoots = LoadCertificates(config.CertsDir, reference.Domain);
        _extraRoots = extraRoots;
        // A registry with a CA in certs.d speaks TLS, even on loopback (which is otherwise spoken to in plain HTTP).
        _endpoints.Add(new Uri($"{(config.IsInsecure(reference.Domain) && extraRoots.Count == 0 ? "http" : "https")}://{host}/"));

        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(Math.Max(1, config.TimeoutSeconds)),
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = true, // blob GETs redirect to storage (S3, CDN)
            MaxConnectionsPerServer = 8,
        };
        if (extraRoots.Count > 0)
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                errors == SslPolicyErrors.None || TrustedByExtraRoots(certificate, errors, extraRoots);
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("minidocker/1.0");
    }

    public void Dispose()
    {
        _http.Dispose();
        _uploadHttp?.Dispose();
    }

    /// <summary>The system's CAs plus <c>CERTS/HOST/*.crt</c>, as Docker adds them to its pool.</summary>
    private static X509Certificate2Collection LoadCertificates(string certsDir, string host)
    {
        var roots = new X509Certificate2Collection();
        var dir = Path.Combine(certsDir, host);
        if (!Directory.Exists(dir))
            return roots;
        foreach (var file in Directory.EnumerateFiles(dir, "*.crt"))
            roots.ImportFromPemFile(file);
        return roots;
    }

    private static bool TrustedByExtraRoots(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2Collection roots)
    {
        // A name mismatch or a missing certificate is never excused: only the chain may end in an extra root.
        if (certificate is null || errors != SslPolicyErrors.RemoteCertificateChainErrors)
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(certificate));
    }

    /// <summary>The manifest (or index) that <paramref name="reference"/> (a tag or digest) names, with its digest.</summary>
    public async Task<(byte[] Body, ManifestDocument Manifest, string Digest)> GetManifest(string reference)
    {
        var body = await Fetch($"v2/{_repository}/manifests/{reference}", MediaTypes.Accepted, MaxManifestBytes, "manifest");
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body));
        if (reference.StartsWith("sha256:", StringComparison.Ordinal) && reference != digest)
            throw new ImageException($"manifest {reference}: digest mismatch (the registry sent content with digest {digest})");
        ManifestDocument manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(body, RegistryJson.Default.ManifestDocument)
                       ?? throw new ImageException($"manifest {reference} is empty");
        }
        catch (JsonException e)
        {
            throw new ImageException($"manifest {reference} is not valid JSON: {e.Message}", e);
        }
        if (manifest.SchemaVersion != 2)
            throw new ImageException($"manifest {reference}: schema version {manifest.SchemaVersion} is not supported (only 2)");
        return (body, manifest, digest);
    }

    /// <summary>A small blob (the image config), read whole and verified.</summary>
    public async Task<byte[]> GetSmallBlob(Descriptor blob)
    {
        RequireDigest(blob.Digest);
        if (blob.Size > MaxConfigBytes)
            throw new ImageException($"blob {blob.Digest}: {blob.Size} bytes is too large for an image config");
        var body = await Fetch($"v2/{_repository}/blobs/{blob.Digest}", [], MaxConfigBytes, "blob");
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body));
        if (digest != blob.Digest)
            throw new ImageException($"blob {blob.Digest}: digest mismatch (received content with digest {digest})");
        return body;
    }

    /// <summary>
    /// A layer blob to read once, in order, straight into its extraction: verified against size and digest when its
    /// end is read, a cut connection resumed with a Range request (see <see cref="BlobStream"/>).
    /// </summary>
    public Stream OpenBlob(Descriptor blob, Action<long> progress, CancellationToken cancel)
    {
        RequireDigest(blob.Digest);
        return new BlobStream(blob, from => Send($"v2/{_repository}/blobs/{blob.Digest}", [], from > 0 ? from : null, "blob"),
            _config, progress, cancel);
    }


    private async Task<int> ReadWithTimeout(Stream body, byte[] buffer)
    {
        using var idle = new CancellationTokenSource(TimeSpan.FromSeconds(_config.TimeoutSeconds));
        try
        {
            return await body.ReadAsync(buffer, idle.Token);
        }
        catch (OperationCanceledException) when (idle.IsCancellationRequested)
        {
            throw new TimeoutException($"no data from the registry for {_config.TimeoutSeconds}s");
        }
    }

    private static void RequireDigest(string digest)
    {
        if (!DistributionReference.DigestPattern().IsMatch(digest))
            throw new ImageException($"unsupported or invalid digest '{Display.Name(digest)}' (expected sha256:<64 hex digits>)");
    }

    private async Task<byte[]> Fetch(string path, string[] accept, long limit, string what)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var response = await Send(path, accept, null, what);
                if (response.Content.Headers.ContentLength > limit)
                    throw new ImageException($"{what} {path}: larger than {limit} bytes");
                await using var body = await response.Content.ReadAsStreamAsync();
                using var memory = new MemoryStream();
                var buffer = new byte[1 << 16];
                int n;
                while ((n = await ReadWithTimeout(body, buffer)) > 0)
                {
                    if (memory.Length + n > limit)
                        throw new ImageException($"{what} {path}: larger than {limit} bytes");
                    memory.Write(buffer, 0, n);
                }
                return memory.ToArray();
            }
            catch (Exception e) when (IsTransient(e) && attempt < _config.Attempts)
            {
                await Task.Delay(Backoff(attempt));
            }
            catch (Exception e) when (IsTransient(e))
            {
                throw new ImageException($"{what} {path}: {Describe(e)}", e);
            }
        }
    }

    /// <summary>
    /// One GET with the endpoints in order (mirrors first): a 401 with a Bearer challenge fetches an anonymous token
    /// for this repository's pull scope and retries once. Non-success statuses become one-line errors.
    /// </summary>
    private async Task<HttpResponseMessage> Send(string path, string[] accept, long? rangeFrom, string what)
    {
        Exception? last = null;
        foreach (var endpoint in _endpoints)
        {
            var isLast = endpoint == _endpoints[^1];
            try
            {
                var response = await SendTo(endpoint, path, accept, rangeFrom);
                if (response.IsSuccessStatusCode)
                    return response;
                var status = (int)response.StatusCode;
                response.Dispose();
                if (!isLast)
                    continue; // a mirror without it: ask the next, as Docker does
                if (status is >= 500 or 429)
                    throw new HttpRequestException($"{what}: the registry answered {status}", null, response.StatusCode);
                throw new ImageException(status switch
                {
                    404 => $"{what} {Tail(path)}: not found in {endpoint.Authority}/{_repository}",
                    401 or 403 when StoredCredentials() is null => $"{what} {Tail(path)}: access denied by {endpoint.Authority} (is the repository private? run `minidocker login {_domain}`)",
                    401 or 403 => $"{what} {Tail(path)}: access denied by {endpoint.Authority} with the credentials stored for {_domain}",
                    _ => $"{what} {Tail(path)}: the registry {endpoint.Authority} answered {status}",
                });
            }
            catch (Exception e) when (!isLast && e is not ImageException)
            {
                last = e;
            }
        }
        throw last ?? new ImageException($"{what} {path}: no registry endpoint");
    }

    private static string Tail(string path) => path[(path.LastIndexOf('/') + 1)..];

    private Task<HttpResponseMessage> SendTo(Uri endpoint, string path, string[] accept, long? rangeFrom) =>
        SendAuthorized(_http, endpoint, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, new Uri(endpoint, path));
            foreach (var type in accept)
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
            if (rangeFrom is { } from)
                request.Headers.Range = new RangeHeaderValue(from, null);
            return request;
        });

    /// <summary>
    /// Sends the request <paramref name="build"/> makes with what authorized this endpoint before; on a 401 answers the
    /// challenge once (Bearer: a token for this repository's scope, with the stored credentials if any; Basic: the
    /// stored credentials) and sends it again. A second 401 is returned to the caller: no loop.
    /// </summary>
    private async Task<HttpResponseMessage> SendAuthorized(HttpClient client, Uri endpoint, Func<HttpRequestMessage> build)
    {
        AuthenticationHeaderValue? authorization;
        lock (_tokenLock)
            authorization = _authorization.GetValueOrDefault(endpoint);
        var response = await SendRequest(client, endpoint, build(), authorization);
        if (response.StatusCode != HttpStatusCode.Unauthorized)
            return response;
        var challenges = response.Headers.WwwAuthenticate.Select(h => AuthChallenge.Parse(h.ToString())).OfType<AuthChallenge>().ToList();
        var answer = await Answer(endpoint, challenges, Scope);
        if (answer is null || (authorization is not null && answer.Scheme == authorization.Scheme && answer.Parameter == authorization.Parameter))
            return response;
        response.Dispose();
        lock (_tokenLock)
            _authorization[endpoint] = answer;
        return await SendRequest(client, endpoint, build(), answer);
    }

    /// <summary>The pull (or, for a push, pull and push) scope of this repository, as the token server expects it.</summary>
    private string Scope => $"repository:{_repository}:{(ForPush ? "pull,push" : "pull")}";

    /// <summary>The Authorization that answers one of <paramref name="challenges"/>, or null when none can be answered.</summary>
    private async Task<AuthenticationHeaderValue?> Answer(Uri endpoint, IReadOnlyList<AuthChallenge> challenges, string? scope)
    {
        // Credentials are the registry's own: a mirror (another host) never gets them.
        var credentials = endpoint == _endpoints[^1] ? StoredCredentials() : null;
        var bearer = challenges.FirstOrDefault(c => c.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase) && c.Realm is not null);
        if (bearer is not null)
            return new AuthenticationHeaderValue("Bearer", await FetchToken(bearer, scope, credentials));
        if (credentials is not null && challenges.Any(c => c.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase)))
        {
            if (endpoint.Scheme != "https" && !IsLoopback(endpoint))
                throw new ImageException($"refusing to send a password over plain HTTP to {endpoint.Authority} (only loopback or HTTPS)");
            return new AuthenticationHeaderValue("Basic", credentials.BasicValue);
        }
        return null;
    }

    private static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    private RegistryCredentials? _credentials;
    private bool _credentialsLooked;

    /// <summary>Credentials given by the caller (login), else those `login` stored for this registry, read on the first challenge.</summary>
    public RegistryCredentials? Credentials
    {
        get => _credentials;
        init
        {
            _credentials = value;
            _credentialsLooked = value is not null;
        }
    }

    /// <summary>Asks tokens for push as well as pull (a push client).</summary>
    public bool ForPush { get; init; }

    private RegistryCredentials? StoredCredentials()
    {
        lock (_tokenLock)
        {
            if (!_credentialsLooked)
            {
                _credentials = CredentialStore.Default().Find(_domain);
                _credentialsLooked = true;
            }
            return _credentials;
        }
    }

    private async Task<HttpResponseMessage> SendRequest(HttpClient client, Uri endpoint, HttpRequestMessage request,
        AuthenticationHeaderValue? authorization)
    {
        using (request)
        {
            if (authorization is not null)
                request.Headers.Authorization = authorization;
            using var headers = new CancellationTokenSource(TimeSpan.FromSeconds(_config.TimeoutSeconds));
            try
            {
                return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headers.Token);
            }
            catch (OperationCanceledException) when (headers.IsCancellationRequested)
            {
                throw new TimeoutException($"no answer from {endpoint.Authority} within {_config.TimeoutSeconds}s");
            }
        }
    }

    /// <summary>
    /// The token flow of the distribution spec: GET realm?service=S&amp;scope=repository:NAME:ACTIONS, anonymous (as
    /// Docker Hub allows for public images) or with the stored credentials as Basic auth and <c>account=USER</c>.
    /// </summary>
    private async Task<string> FetchToken(AuthChallenge challenge, string? scope, RegistryCredentials? credentials)
    {
        var query = new List<string>();
        if (challenge.Service is { } service)
            query.Add("service=" + Uri.EscapeDataString(service));
        if (scope is not null)
            query.Add("scope=" + Uri.EscapeDataString(scope));
        if (credentials is not null)
            query.Add("account=" + Uri.EscapeDataString(credentials.Username));
        var realm = challenge.Realm!;
        if (!Uri.TryCreate(realm, UriKind.Absolute, out var realmUri) || realmUri.Scheme is not ("https" or "http"))
            throw new ImageException($"the registry's token realm '{Display.Name(realm)}' is not an http(s) URL");
        if (realmUri.Scheme == "http" && !_config.IsInsecure(realmUri.Authority))
            throw new ImageException($"refusing to fetch a token over plain HTTP from {realmUri.Authority} (not an insecure registry)");
        var url = realm + (realm.Contains('?') ? "&" : "?") + string.Join('&', query);
        using var headers = new CancellationTokenSource(TimeSpan.FromSeconds(_config.TimeoutSeconds));
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (credentials is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", credentials.BasicValue);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, headers.Token);
        }
        catch (OperationCanceledException) when (headers.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer from the token server {realmUri.Authority} within {_config.TimeoutSeconds}s");
        }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.Unauthorized && credentials is not null)
                throw new ImageException($"unauthorized: incorrect username or password (token server {realmUri.Authority})");
            if (response.StatusCode == HttpStatusCode.Unauthorized)
                throw new ImageException($"unauthorized: the token server {realmUri.Authority} wants credentials (run `minidocker login {_domain}`)");
            if (!response.IsSuccessStatusCode)
                throw new ImageException($"token from {realmUri.Authority}: answered {(int)response.StatusCode}");
            var body = await response.Content.ReadAsByteArrayAsync(headers.Token);
            try
            {
                var parsed = JsonSerializer.Deserialize(body, RegistryJson.Default.TokenResponse);
                return parsed?.Token ?? parsed?.AccessToken ?? throw new ImageException($"token from {realmUri.Authority}: no token in the answer");
            }
            catch (JsonException e)
            {
                throw new ImageException($"token from {realmUri.Authority}: not JSON: {e.Message}", e);
            }
        }
    }

    internal static bool IsTransient(Exception e) => e switch
    {
        ImageException => false,
        _ when DiskFull.Is(e) => false,
        HttpRequestException h => h.StatusCode is null or >= HttpStatusCode.InternalServerError or HttpStatusCode.TooManyRequests,
        TimeoutException or IOException => true,
        _ => false,
    };

    internal static string Describe(Exception e) => e switch
    {
        TimeoutException => e.Message,
        HttpRequestException { InnerException: { } inner } => $"{e.Message} ({inner.Message})",
        _ => e.Message,
    };

    internal static TimeSpan Backoff(int attempt) => TimeSpan.FromMilliseconds(250 * (1 << Math.Min(attempt, 6)));
}
