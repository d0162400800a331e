using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Hosting;
using Akka.Remote.Transport.DotNetty;

namespace Fabric.Node.Hosting;

/// <summary>
/// Akka remoting over mutual TLS (<c>--remoting-cert/--remoting-key/--remoting-ca</c>). Each node
/// presents its own certificate and accepts a peer, inbound or outbound, only when the peer's
/// certificate chains to the operator's CA bundle (a private PKI: the system trust store plays no
/// part, and host names are not checked, since nodes are addressed by IP). A process without such
/// a certificate cannot associate, so it can neither join nor send a message to any actor.
/// </summary>
public static class RemotingTls
{
    public static AkkaConfigurationBuilder WithRemotingTls(this AkkaConfigurationBuilder akka, NodeOptions options)
    {
        if (options is not { RemotingCert: { } cert, RemotingKey: { } key, RemotingCa: { } ca }) return akka;
        var certificate = Load(cert, key);
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(ca);
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException)
        {
            throw new ArgumentException($"--remoting-ca: cannot read a PEM certificate bundle from '{ca}': {e.Message}");
        }
        if (authorities.Count == 0) throw new ArgumentException($"--remoting-ca: '{ca}' holds no certificate");

        akka.AddHocon("akka.remote.dot-netty.tcp.enable-ssl = true", HoconAddMode.Prepend);
        akka.AddSetup(new DotNettySslSetup(certificate, suppressValidation: false, requireMutualAuthentication: true,
            validateCertificateHostname: false, customValidator: (peer, _, remote, _, log) =>
            {
                if (peer is null) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                if (chain.Build(peer)) return true;
                log.Warning(NodeLogger.RefusedPrefix + "{0}: its certificate '{1}' does not chain to --remoting-ca ({2})", remote, peer.Subject,
                    string.Join(", ", chain.ChainStatus.Select(s => s.Status)));
                return false;
            }));
        return akka;
    }

    /// <summary>A PEM certificate and key as a certificate whose key TLS can use (exported once to PKCS#12).</summary>
    private static X509Certificate2 Load(string cert, string key)
    {
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(cert, key);
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new ArgumentException($"--remoting-cert/--remoting-key: cannot load a certificate and key from '{cert}' and '{key}': {e.Message}");
        }
    }
}
