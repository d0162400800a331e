using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Fabric.Tests.Support;

/// <summary>A private certificate authority for tests: writes PEM files a node can be given.</summary>
public sealed class TestPki
{
    private readonly X509Certificate2 _authority;
    private readonly string _dir;

    public string CaFile { get; }

    public TestPki(string dir, string name)
    {
        _dir = dir;
        Directory.CreateDirectory(dir);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _authority = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(365));
        CaFile = Path.Combine(dir, $"{name}.ca.pem");
        File.WriteAllText(CaFile, _authority.ExportCertificatePem());
    }

    /// <summary>A certificate for <paramref name="node"/> signed by this authority: (cert.pem, key.pem).</summary>
    public (string Cert, string Key) Issue(string node)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={node}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // server and client auth
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var issued = request.Create(_authority, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30),
            RandomNumberGenerator.GetBytes(8));
        var cert = Path.Combine(_dir, $"{node}.pem");
        var keyFile = Path.Combine(_dir, $"{node}.key");
        File.WriteAllText(cert, issued.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (cert, keyFile);
    }
}
