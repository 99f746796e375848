using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MiniDocker.Network;

[JsonSourceGenerationOptions(
    WriteIndented = true,
    Converters = [typeof(IPAddressJsonConverter), typeof(SubnetJsonConverter), typeof(Subnet6JsonConverter)])]
[JsonSerializable(typeof(NetworkRecord))]
[JsonSerializable(typeof(EndpointRecord))]
[JsonSerializable(typeof(IpamState))]
[JsonSerializable(typeof(IpamState6))]
internal sealed partial class NetworkJson : JsonSerializerContext;

internal sealed class IPAddressJsonConverter : JsonConverter<IPAddress>
{
    public override IPAddress Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        IPAddress.TryParse(reader.GetString(), out IPAddress? address)
            ? address
            : throw new JsonException($"'{reader.GetString()}' is not an IP address");

    public override void Write(Utf8JsonWriter writer, IPAddress value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}

internal sealed class SubnetJsonConverter : JsonConverter<Subnet>
{
    public override Subnet Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        Subnet.Parse(reader.GetString() ?? throw new JsonException("subnet is null"));

    public override void Write(Utf8JsonWriter writer, Subnet value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}

internal sealed class Subnet6JsonConverter : JsonConverter<Subnet6>
{
    public override Subnet6 Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        Subnet6.Parse(reader.GetString() ?? throw new JsonException("subnet is null"));

    public override void Write(Utf8JsonWriter writer, Subnet6 value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
