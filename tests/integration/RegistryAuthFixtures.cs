using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace MiniDocker.IntegrationTests;

public enum RegistryAuthKind { None, Htpasswd, Token }

/// <summary>A test registry's transport and authentication.</summary>
public sealed record RegistryOptions(bool Tls = false, RegistryAuthKind Auth = RegistryAuthKind.None)
{
    public string User { get; init; } = "tester";
    public string Password { get; init; } = "pw-" + Guid.NewGuid().ToString("N")[..12];
}

/// <summary>A CA made per test, a server certificate it signs for 127.0.0.1, and bcrypt for htpasswd files.</summary>
public static partial class TestCertificates
{
    /// <summary>Writes the server's cert and key under <paramref name="dir"/> and the CA as CERTS/HOST/ca.crt, as
    /// Docker's certs.d layout has it; returns the server's PEM files.</summary>
    public static (string Cert, string Key) ServerFor(string dir, string certsDir, string host)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=minidocker test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var server = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(8));

        var cert = Path.Combine(dir, "server.crt");
        var key = Path.Combine(dir, "server.key");
        File.WriteAllText(cert, server.ExportCertificatePem());
        File.WriteAllText(key, serverKey.ExportPkcs8PrivateKeyPem());
        Directory.CreateDirectory(Path.Combine(certsDir, host));
        File.WriteAllText(Path.Combine(certsDir, host, "ca.crt"), ca.ExportCertificatePem());
        return (cert, key);
    }

    /// <summary>A bcrypt hash ($2b$, cost 5: tests need speed, not strength) from the system's libcrypt (libxcrypt).</summary>
    public static string Bcrypt(string password)
    {
        var salt = crypt_gensalt("$2b$", 5, IntPtr.Zero, 0);
        if (salt == IntPtr.Zero) throw new InvalidOperationException("crypt_gensalt failed");
        var saltText = Marshal.PtrToStringAnsi(salt)!;
        var hash = crypt(password, saltText);
        return Marshal.PtrToStringAnsi(hash) is { } h && h.StartsWith("$2b$") ? h : throw new InvalidOperationException("bcrypt failed");
    }

    [LibraryImport("libcrypt.so.1", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr crypt_gensalt(string prefix, nuint count, IntPtr rbytes, int nrbytes);

    [LibraryImport("libcrypt.so.1", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr crypt(string key, string salt);
}

/// <summary>
/// The token server of the distribution spec's token authentication, run by the test: GET /token with Basic
/// credentials answers a JWT (ES256) granting the asked scope; the registry checks it against the certificate in
/// its <c>rootcertbundle</c>, by the <c>kid</c> header in libtrust's format (what docker-registry 2.8 looks up).
/// </summary>
public sealed class RegistryTokenIssuer : IDisposable
{
    public const string Service = "minidocker-test-registry";
    public const string Issuer = "minidocker-test-issuer";
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly HttpListener _listener = new();
    private readonly string _user, _password;
    private readonly string _keyId;
    private int _issued;

    public string CertificateFile { get; }
    public int Port { get; }
    public string Realm => $"http://127.0.0.1:{Port}/token";
    public int Issued => Volatile.Read(ref _issued);

    public RegistryTokenIssuer(string dir, string user, string password)
    {
        _user = user;
        _password = password;
        var request = new CertificateRequest("CN=minidocker test token issuer", _key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        CertificateFile = Path.Combine(dir, "token-issuer.crt");
        File.WriteAllText(CertificateFile, certificate.ExportCertificatePem());
        _keyId = LibtrustKeyId(_key.ExportSubjectPublicKeyInfo());
        Port = HostPorts.Free();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _ = Task.Run(Serve);
    }

    /// <summary>libtrust's key id: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32 without padding,
    /// in 12 groups of 4 joined by ':'.</summary>
    public static string LibtrustKeyId(byte[] spki)
    {
        var bits = SHA256.HashData(spki).AsSpan(0, 30);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var text = new StringBuilder();
        for (var i = 0; i < bits.Length; i += 5)
        {
            ulong chunk = 0;
            for (var j = 0; j < 5; j++) chunk = (chunk << 8) | bits[i + j];
            for (var k = 7; k >= 0; k--) text.Append(alphabet[(int)((chunk >> (k * 5)) & 31)]);
        }
        return string.Join(':', text.ToString().Chunk(4).Select(c => new string(c)));
    }

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            try { Answer(context); }
            catch (Exception) { context.Response.StatusCode = 500; }
            finally { context.Response.Close(); }
        }
    }

    private void Answer(HttpListenerContext context)
    {
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_user}:{_password}"));
        if (context.Request.Headers["Authorization"] != expected)
        {
            context.Response.StatusCode = 401;
            context.Response.AddHeader("WWW-Authenticate", "Basic realm=\"token\"");
            return;
        }
        var access = new JsonArray();
        foreach (var scope in context.Request.QueryString.GetValues("scope") ?? [])
        {
            var parts = scope.Split(':');
            if (parts.Length == 3)
                access.Add((JsonNode)new JsonObject { ["type"] = parts[0], ["name"] = parts[1], ["actions"] = new JsonArray(parts[2].Split(',').Select(a => (JsonNode?)a).ToArray()) });
        }
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = new JsonObject { ["typ"] = "JWT", ["alg"] = "ES256", ["kid"] = _keyId };
        var claims = new JsonObject
        {
            ["iss"] = Issuer, ["sub"] = _user, ["aud"] = Service, ["exp"] = now + 300, ["nbf"] = now - 30, ["iat"] = now,
            ["jti"] = Guid.NewGuid().ToString("N"), ["access"] = access,
        };
        var signingInput = Base64Url(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + Base64Url(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var token = signingInput + "." + Base64Url(signature);
        Interlocked.Increment(ref _issued);
        var body = Encoding.UTF8.GetBytes(new JsonObject { ["token"] = token, ["expires_in"] = 300 }.ToJsonString());
        context.Response.ContentType = "application/json";
        context.Response.OutputStream.Write(body);
    }

    private static string Base64Url(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose()
    {
        try { _listener.Stop(); _listener.Close(); } catch (ObjectDisposedException) { }
        _key.Dispose();
    }
}

/// <summary>
/// A hostile registry on 127.0.0.1 (HttpListener) for push and login: <paramref name="answer"/> decides each reply;
/// every request is recorded, so a test can show that no manifest was ever stored.
/// </summary>
public sealed class FakeRegistry : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Action<HttpListenerContext, FakeRegistry> _answer;
    private readonly List<string> _requests = [];
    public int Port { get; }
    public string Host => $"127.0.0.1:{Port}";

    public FakeRegistry(Action<HttpListenerContext, FakeRegistry> answer)
    {
        _answer = answer;
        Port = HostPorts.Free();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _ = Task.Run(Serve);
    }

    public IReadOnlyList<string> Requests { get { lock (_requests) return _requests.ToList(); } }

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            lock (_requests) _requests.Add($"{context.Request.HttpMethod} {context.Request.Url!.PathAndQuery}");
            try
            {
                context.Request.InputStream.CopyTo(Stream.Null);
                _answer(context, this);
            }
            catch (Exception) { context.Response.StatusCode = 500; }
            finally { try { context.Response.Close(); } catch (Exception) { } }
        }
    }

    public void Dispose()
    {
        try { _listener.Stop(); _listener.Close(); } catch (ObjectDisposedException) { }
    }
}
