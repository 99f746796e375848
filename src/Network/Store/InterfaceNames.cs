using System.Text;

namespace MiniDocker.Network;

/// <summary>Names of the kernel interfaces a network creates. All fit IFNAMSIZ (15 bytes plus the NUL).</summary>
public static class InterfaceNames
{
    public const int MaxLength = 15;

    /// <summary>
    /// Bridge name used when the user gives no -o bridge-name: "mdk-" + 8 hex digits of SHA-256 of the network name.
    /// A non-zero <paramref name="attempt"/> rehashes, for the (2^-32 per pair) case that the name is already taken.
    /// </summary>
    public static string DefaultBridge(string network, int attempt = 0) => "mdk-" + Hash8("bridge", network, attempt);

    /// <summary>
    /// Host end of a container's veth: "mdk" + 8 hex digits of a stable hash over (container id, network, attempt).
    /// 32 bits alone do not rule out a collision (about 1 in 10^4 with 1000 endpoints), so the store calls this
    /// under its lock with attempt 0, 1, 2... until the name is not used by any persisted endpoint: uniqueness is
    /// checked, the hash only makes the first try nearly always succeed and keeps names stable across restarts.
    /// </summary>
    public static string HostVeth(string containerId, string network, int attempt = 0) =>
        "mdk" + Hash8("veth", containerId + "\0" + network, attempt);

    /// <summary>1-15 bytes of [a-zA-Z0-9_.-]: what the kernel accepts (no '/', ':', whitespace) and our scripts can quote.</summary>
    public static bool IsValid(string name) =>
        name.Length is >= 1 and <= MaxLength
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-')
        && name is not "." and not "..";

    private static string Hash8(string purpose, string input, int attempt)
    {
        string material = attempt == 0 ? $"{purpose}\0{input}" : $"{purpose}\0{input}\0{attempt}";
        return Hex8(material);
    }

    /// <summary>
    /// 8 hex digits of FNV-1a (64-bit, folded): stable across processes, unlike string.GetHashCode, and no
    /// cryptography, because SHA-256 would load libssl and libcrypto (3.5 MB) into every container's monitor. Names
    /// only need spreading; uniqueness is checked by the store.
    /// </summary>
    public static string Hex8(string text)
    {
        ulong hash = 14695981039346656037;
        foreach (byte b in Encoding.UTF8.GetBytes(text))
            hash = (hash ^ b) * 1099511628211;
        return ((uint)(hash ^ (hash >> 32))).ToString("x8");
    }
}
