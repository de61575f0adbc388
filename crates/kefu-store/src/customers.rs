//! Customers: their PII is only ever stored encrypted (one ciphertext per field, bound to its
//! row and column), with blind indexes for exact lookup by phone and by email. Masking and
//! the permission to unmask are the application layer's; this module hands out plaintext to
//! whoever calls it.

use std::fmt;

use crate::crypto::{FieldRef, normalize_email, normalize_phone};
use crate::db::now_micros;
use crate::error::StoreError;
use crate::ids::{ContractRef, CustomerId};
use crate::{Store, on_db, on_tx, sql};

const TABLE: &str = "customers";

/// A customer's personal data in plaintext. `Debug` shows which fields are present, never
/// their values, so PII does not leak into logs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CustomerPii {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub id_number: Option<String>,
    pub address: Option<String>,
}

impl fmt::Debug for CustomerPii {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |v: &Option<String>| if v.is_some() { "<redacted>" } else { "None" };
        f.debug_struct("CustomerPii")
            .field("name", &shown(&self.name))
            .field("phone", &shown(&self.phone))
            .field("email", &shown(&self.email))
            .field("id_number", &shown(&self.id_number))
            .field("address", &shown(&self.address))
            .finish()
    }
}

type Row = (
    String,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

impl Store {
    /// Stores a new customer of a contract, every PII field encrypted.
    pub async fn insert_customer(
        &self,
        contract: impl Into<ContractRef<'_>>,
        pii: &CustomerPii,
    ) -> Result<CustomerId, StoreError> {
        let contract_id = self.resolve_contract(contract.into()).await?;
        let mut tx = self.db().begin().await?;
        let id = self.insert_customer_in(&mut tx, contract_id, pii).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// [`Store::insert_customer`] inside a caller's transaction.
    pub(crate) async fn insert_customer_in(
        &self,
        tx: &mut crate::Tx,
        contract_id: crate::ids::ContractId,
        pii: &CustomerPii,
    ) -> Result<CustomerId, StoreError> {
        let id = CustomerId::generate();
        let row = id.text();
        let cipher = self.cipher();
        let enc = |column: &'static str, value: &Option<String>| {
            value
                .as_deref()
                .map(|v| cipher.encrypt_str(FieldRef::new(TABLE, column, &row), v))
                .transpose()
        };
        let cid = contract_id.text();
        let phone_bidx = pii
            .phone
            .as_deref()
            .map(|p| cipher.blind_index(&cid, "phone", &normalize_phone(p)));
        let email_bidx = pii
            .email
            .as_deref()
            .map(|e| cipher.blind_index(&cid, "email", &normalize_email(e)));
        let now = now_micros();
        let (name, phone, email, id_number, address) = (
            enc("name_enc", &pii.name)?,
            enc("phone_enc", &pii.phone)?,
            enc("email_enc", &pii.email)?,
            enc("id_number_enc", &pii.id_number)?,
            enc("address_enc", &pii.address)?,
        );
        on_tx!(tx, conn => {
            sqlx::query(sql!(
                "INSERT INTO customers
                    (id, contract_id, name_enc, phone_enc, email_enc, id_number_enc, address_enc,
                     phone_bidx, email_bidx, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)"
            ))
            .bind(&row)
            .bind(&cid)
            .bind(&name)
            .bind(&phone)
            .bind(&email)
            .bind(&id_number)
            .bind(&address)
            .bind(&phone_bidx)
            .bind(&email_bidx)
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        Ok(id)
    }

    /// A customer's PII, decrypted; `None` when there is no such customer. A ciphertext that
    /// does not belong to this row/column (or to this key) is an error, never garbage.
    pub async fn customer(&self, id: CustomerId) -> Result<Option<CustomerPii>, StoreError> {
        let found: Option<Row> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id, name_enc, phone_enc, email_enc, id_number_enc, address_enc
                 FROM customers WHERE id = $1"
            ))
            .bind(id.text())
            .fetch_optional(pool)
            .await?
        });
        let Some((row, name, phone, email, id_number, address)) = found else {
            return Ok(None);
        };
        let cipher = self.cipher();
        let dec = |column: &'static str, value: Option<Vec<u8>>| {
            value
                .map(|v| cipher.decrypt_str(FieldRef::new(TABLE, column, &row), &v))
                .transpose()
        };
        Ok(Some(CustomerPii {
            name: dec("name_enc", name)?,
            phone: dec("phone_enc", phone)?,
            email: dec("email_enc", email)?,
            id_number: dec("id_number_enc", id_number)?,
            address: dec("address_enc", address)?,
        }))
    }

    /// The oldest customer of the contract with this phone number (compared on its digits,
    /// `+86` prefix ignored).
    pub async fn find_customer_by_phone(
        &self,
        contract: impl Into<ContractRef<'_>>,
        phone: &str,
    ) -> Result<Option<CustomerId>, StoreError> {
        let contract_id = self.resolve_contract(contract.into()).await?.text();
        let bidx = self
            .cipher()
            .blind_index(&contract_id, "phone", &normalize_phone(phone));
        let found: Option<(String,)> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id FROM customers WHERE contract_id = $1 AND phone_bidx = $2
                 ORDER BY id LIMIT 1"
            ))
            .bind(&contract_id)
            .bind(&bidx)
            .fetch_optional(pool)
            .await?
        });
        found.map(|(id,)| CustomerId::from_stored(&id)).transpose()
    }

    /// The oldest customer of the contract with this email address (case-insensitive).
    pub async fn find_customer_by_email(
        &self,
        contract: impl Into<ContractRef<'_>>,
        email: &str,
    ) -> Result<Option<CustomerId>, StoreError> {
        let contract_id = self.resolve_contract(contract.into()).await?.text();
        let bidx = self
            .cipher()
            .blind_index(&contract_id, "email", &normalize_email(email));
        let found: Option<(String,)> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id FROM customers WHERE contract_id = $1 AND email_bidx = $2
                 ORDER BY id LIMIT 1"
            ))
            .bind(&contract_id)
            .bind(&bidx)
            .fetch_optional(pool)
            .await?
        });
        found.map(|(id,)| CustomerId::from_stored(&id)).transpose()
    }
}
